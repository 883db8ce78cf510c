package dev.conduit.core.control.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class StoreConfigTest {

  @Test
  void driverNames() {
    assertThat(StoreConfig.Driver.parse("sqlite3")).isEqualTo(StoreConfig.Driver.SQLITE);
    assertThat(StoreConfig.Driver.parse("PostgreSQL")).isEqualTo(StoreConfig.Driver.POSTGRES);
    assertThat(StoreConfig.Driver.parse("mysql")).isEqualTo(StoreConfig.Driver.MYSQL);
    assertThat(StoreConfig.Driver.parse(" mariadb ")).isEqualTo(StoreConfig.Driver.MYSQL);
    assertThatThrownBy(() -> StoreConfig.Driver.parse("oracle")).hasMessageContaining("expected: sqlite, postgres");
  }

  @Test
  void mysqlUrlsOfEveryFormReachTheMariaDbDriver() {
    for (String url : new String[] {"jdbc:mysql://db:3306/conduit", "jdbc:mariadb://db:3306/conduit",
        "mysql://db:3306/conduit", "MariaDB://db:3306/conduit"}) {
      assertThat(StoreConfig.mysql(url).build().url()).isEqualTo("jdbc:mariadb://db:3306/conduit");
    }
    assertThat(StoreConfig.mysql("db.example", 3307, "egress").build().url())
        .isEqualTo("jdbc:mariadb://db.example:3307/egress");
    assertThat(StoreConfig.mysql("fd00::5", 3306, "c").build().url()).isEqualTo("jdbc:mariadb://[fd00::5]:3306/c");
    assertThatThrownBy(() -> StoreConfig.mysql("jdbc:postgresql://db/conduit"))
        .hasMessageContaining("expected: jdbc:mysql://HOST:PORT/DATABASE");
    assertThatThrownBy(() -> StoreConfig.mysql("jdbc:mysql://db:3306/")).hasMessageContaining("expected:");
    assertThatThrownBy(() -> StoreConfig.mysql("jdbc:mysql://db:3306")).hasMessageContaining("expected:");
    assertThatThrownBy(() -> StoreConfig.mysql("jdbc:mysql://db:3306?x/manager")).hasMessageContaining("expected:");
    assertThat(StoreConfig.mysql("jdbc:mysql://a:3306,b:3306/c?connectTimeout=5").build().url())
        .isEqualTo("jdbc:mariadb://a:3306,b:3306/c?connectTimeout=5");
    assertThatThrownBy(() -> StoreConfig.mysql("db", 70000, "c")).hasMessage("port: 70000 (expected: 1-65535)");
    assertThatThrownBy(() -> StoreConfig.mysql("db/x", 3306, "c")).hasMessageContaining("host: 'db/x'");
    assertThatThrownBy(() -> StoreConfig.mysql("db", 3306, "c; DROP")).hasMessageContaining("database: 'c; DROP'");
  }

  @Test
  void passwordsAreMasked() {
    assertThat(StoreConfig.postgres("postgresql://u@h:5/db").password("s3cret").build().toString())
        .contains("jdbc:postgresql://u@h:5/db").doesNotContain("s3cret");
    StoreConfig mysql = StoreConfig.mysql("db", 3306, "c").user("egress").password("hunter2").build();
    assertThat(mysql.toString()).contains("user=egress", "password=****").doesNotContain("hunter2");
    assertThat(mysql.password()).contains("hunter2");
  }

  @Test
  void pollIntervalIsBounded() {
    assertThat(StoreConfig.mysql("db", 3306, "c").build().changePollInterval())
        .isEqualTo(StoreConfig.DEFAULT_CHANGE_POLL_INTERVAL);
    assertThatThrownBy(() -> StoreConfig.mysql("db", 3306, "c").changePollInterval(Duration.ofMillis(1)))
        .hasMessage("changePollInterval: PT0.001S (expected: 10ms-1m)");
  }
}
