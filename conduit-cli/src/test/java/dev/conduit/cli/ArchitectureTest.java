package dev.conduit.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.domain.JavaType;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.module.ModuleDescriptor;
import java.net.URL;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * conduit's layout, checked on the compiled classes of every module (this module's tests see them all):
 * <ul>
 *   <li>no package cycles: between modules, between core's {@code internal} packages, and between the other
 *       packages (internals and the entry points, {@code dev.conduit.core} and {@code dev.conduit.cli}, left
 *       out);</li>
 *   <li>a public type of an exported package shows no {@code internal} type in its API (supertypes, public and
 *       protected fields, methods and constructors);</li>
 *   <li>the roles (netfilter, mitm, the mesh manager {@code dev.conduit.core.mesh} and the egress server
 *       {@code dev.conduit.core.egress}) may use core's other
 *       packages, the control plane's parts ({@code dev.conduit.core.control}: store, enrolment, push channel,
 *       which the mesh manager and the egress guard share) included, but not each other, and core's other
 *       packages use none of them: the roles meet only in the CLI.</li>
 * </ul>
 */
class ArchitectureTest {
  private static final String NETFILTER = "dev.conduit.netfilter..";
  private static final String MITM = "dev.conduit.mitm..";
  private static final String MESH = "dev.conduit.core.mesh..";
  private static final String EGRESS = "dev.conduit.core.egress..";
  private static final List<String> ROLES = List.of(NETFILTER, MITM, MESH, EGRESS);
  private static final Set<String> ENTRY_POINTS = Set.of("dev.conduit.core", "dev.conduit.cli");

  private static JavaClasses classes;
  private static Set<String> exported;

  @BeforeAll
  static void importClasses() {
    // main classes only: not this module's tests, nor core's test-jar on the class path
    ImportOption mainOnly = location -> !location.contains("/test-classes/") && !location.contains("-tests.jar");
    classes = new ClassFileImporter().withImportOption(mainOnly).importPackages("dev.conduit");
    exported = exportedPackages();
  }

  /** The packages the conduit modules export to everyone, read from their module descriptors. */
  private static Set<String> exportedPackages() {
    Set<String> packages = new HashSet<>();
    try {
      for (URL url : Collections.list(ArchitectureTest.class.getClassLoader().getResources("module-info.class"))) {
        try (InputStream in = url.openStream()) {
          ModuleDescriptor d = ModuleDescriptor.read(in);
          if (d.name().startsWith("dev.conduit.")) {
            d.exports().stream().filter(e -> !e.isQualified()).forEach(e -> packages.add(e.source()));
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return packages;
  }

  @Test
  void seesEveryModule() {
    assertThat(exported).contains("dev.conduit.core", "dev.conduit.mitm", "dev.conduit.netfilter", "dev.conduit.cli");
    assertThat(classes.containPackage("dev.conduit.core.internal.dial")).isTrue();
    assertThat(classes.containPackage("dev.conduit.mitm")).isTrue();
    assertThat(classes.containPackage("dev.conduit.netfilter")).isTrue();
  }

  @Test
  void modulesAreFreeOfCycles() {
    slices().matching("dev.conduit.(*)..").namingSlices("module $1").should().beFreeOfCycles().check(classes);
  }

  @Test
  void coreInternalPackagesAreFreeOfCycles() {
    slices().matching("dev.conduit.core.internal.(*)..").namingSlices("internal.$1").should().beFreeOfCycles()
        .check(classes);
  }

  @Test
  void publicPackagesAreFreeOfCycles() {
    // A module's internals implement its public interfaces and its public factories create them, so public
    // packages and internals use each other by design: this rule is about the other packages among themselves
    // (the rule above about the internal ones). The entry points that assemble their module's packages are left
    // out too: dev.conduit.core (the Conduit facade) and dev.conduit.cli (the command line's root).
    DescribedPredicate<JavaClass> leftOut = DescribedPredicate.describe("internal, or an entry point package",
        c -> isInternal(c) || ENTRY_POINTS.contains(c.getPackageName()));
    slices().matching("dev.conduit.(**)").namingSlices("$1").should().beFreeOfCycles()
        .ignoreDependency(leftOut, DescribedPredicate.alwaysTrue())
        .ignoreDependency(DescribedPredicate.alwaysTrue(), leftOut)
        .check(classes);
  }

  @Test
  void exportedTypesShowNoInternalTypeInTheirApi() {
    noInternalTypeInApi(exported).check(classes);
  }

  @Test
  void theApiRuleCatchesALeak() {
    JavaClasses fixture = new ClassFileImporter().importPackages("dev.conduit.cli.archfixture");
    assertThatThrownBy(() -> noInternalTypeInApi(Set.of("dev.conduit.cli.archfixture")).check(fixture))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("Leaky hidden(...) uses dev.conduit.cli.archfixture.internal.Hidden")
        .hasMessageNotContaining("count(")
        .hasMessageNotContaining("privately(");
  }

  private static ArchRule noInternalTypeInApi(Set<String> exportedPackages) {
    return classes().that(publicIn(exportedPackages)).should(exposeNoInternalType());
  }

  @Test
  void rolesDoNotUseEachOther() {
    for (String role : ROLES) {
      String[] others = ROLES.stream().filter(r -> !r.equals(role)).toArray(String[]::new);
      noClasses().that().resideInAPackage(role)
          .should().dependOnClassesThat().resideInAnyPackage(others)
          .because("roles meet only in the CLI")
          .allowEmptyShould(true)
          .check(classes);
    }
  }

  @Test
  void coreUsesNoRole() {
    // the control plane's parts are core too: they use no role
    noClasses().that().resideInAPackage("dev.conduit.core..").and().resideOutsideOfPackages(MESH, EGRESS)
        .should().dependOnClassesThat().resideInAnyPackage(ROLES.toArray(String[]::new))
        .because("roles plug into core, and meet only in the CLI")
        .check(classes);
  }

  private static DescribedPredicate<JavaClass> publicIn(Set<String> exportedPackages) {
    return DescribedPredicate.describe("are public in an exported package",
        c -> exportedPackages.contains(c.getPackageName()) && isVisible(c));
  }

  /** Public, and (for a nested class) reachable: every enclosing class public too. */
  private static boolean isVisible(JavaClass c) {
    for (JavaClass k = c; k != null; k = k.getEnclosingClass().orElse(null)) {
      if (!k.getModifiers().contains(JavaModifier.PUBLIC)) {
        return false;
      }
    }
    return true;
  }

  private static boolean isApi(Set<JavaModifier> modifiers, boolean finalClass) {
    return modifiers.contains(JavaModifier.PUBLIC) || (!finalClass && modifiers.contains(JavaModifier.PROTECTED));
  }

  private static boolean isInternal(JavaClass c) {
    return c.getPackageName().contains(".internal") && c.getPackageName().startsWith("dev.conduit.");
  }

  private static ArchCondition<JavaClass> exposeNoInternalType() {
    return new ArchCondition<>("expose no internal type in their API") {
      @Override
      public void check(JavaClass c, ConditionEvents events) {
        boolean finalClass = c.getModifiers().contains(JavaModifier.FINAL);
        Set<String> leaks = new LinkedHashSet<>();
        c.getRawSuperclass().filter(ArchitectureTest::isInternal)
            .ifPresent(s -> leaks.add("extends " + s.getName()));
        for (JavaType i : c.getInterfaces()) {
          if (isInternal(i.toErasure())) {
            leaks.add("implements " + i.getName());
          }
        }
        for (JavaField f : c.getFields()) {
          if (isApi(f.getModifiers(), finalClass)) {
            f.getType().getAllInvolvedRawTypes().stream().filter(ArchitectureTest::isInternal)
                .forEach(t -> leaks.add("field " + f.getName() + ": " + t.getName()));
          }
        }
        for (JavaCodeUnit u : c.getCodeUnits()) {
          if (!isApi(u.getModifiers(), finalClass) || u.getModifiers().contains(JavaModifier.SYNTHETIC)) {
            continue;
          }
          Set<JavaClass> used = new HashSet<>(u.getReturnType().getAllInvolvedRawTypes());
          u.getParameterTypes().forEach(p -> used.addAll(p.getAllInvolvedRawTypes()));
          u.getThrowsClause().getTypes().forEach(t -> used.add(t));
          used.stream().filter(ArchitectureTest::isInternal)
              .forEach(t -> leaks.add(u.getName() + "(...) uses " + t.getName()));
        }
        for (String leak : leaks) {
          events.add(SimpleConditionEvent.violated(c, c.getName() + " " + leak));
        }
      }
    };
  }
}
