package dev.conduit.cli.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.control.store.StoreConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SeedDatabaseKeysTest {

  @Test
  void seed003sKeysAsWritten() {
    Map<String, Object> conf = Map.of("db_user", "egress", "db_password", "your_db_password",
        "db_server", "db.example", "db_port", "3307", "db_name", "allowlist");
    assertThat(SeedDatabaseKeys.present(conf)).isTrue();
    StoreConfig store = SeedDatabaseKeys.mysql(conf).build();
    assertThat(store.driver()).isEqualTo(StoreConfig.Driver.MYSQL);
    assertThat(store.url()).isEqualTo("jdbc:mariadb://db.example:3307/allowlist");
    assertThat(store.user()).contains("egress");
    assertThat(store.password()).contains("your_db_password");
    assertThat(store.toString()).doesNotContain("your_db_password");
    assertThat(SeedDatabaseKeys.mysql(Map.of("db_server", "10.0.0.5", "db_port", 3306, "db_name", "a")).build()
        .url()).isEqualTo("jdbc:mariadb://10.0.0.5:3306/a");
    assertThat(SeedDatabaseKeys.present(Map.of("listen", ":8080"))).isFalse();
  }

  @Test
  void badValuesNameTheirKey() {
    assertThatThrownBy(() -> SeedDatabaseKeys.mysql(Map.of("db_server", "db", "db_port", "your_db_port",
        "db_name", "a"))).hasMessage("db_port: 'your_db_port' (expected: 1-65535)");
    assertThatThrownBy(() -> SeedDatabaseKeys.mysql(Map.of("db_name", "a"))).hasMessageStartingWith("db_server: missing");
    assertThatThrownBy(() -> SeedDatabaseKeys.mysql(Map.of("db_server", "db"))).hasMessageStartingWith("db_name: missing");
    assertThatThrownBy(() -> SeedDatabaseKeys.mysql(Map.of("db_server", "db", "db_name", "a;b")))
        .hasMessageStartingWith("db_name: 'a;b'");
    assertThatThrownBy(() -> SeedDatabaseKeys.mysql(Map.of("db_server", "db/x", "db_name", "a")))
        .hasMessageStartingWith("db_server: 'db/x'");
    assertThatThrownBy(() -> SeedDatabaseKeys.mysql(Map.of("db_server", java.util.List.of("a"), "db_name", "a")))
        .hasMessageContaining("db_server: a").hasMessageContaining("(expected: a string)");
  }
}
