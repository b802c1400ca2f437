-- The web shop's tables (pipelines/webshop.yaml) on MariaDB/MySQL, as postgresql/001_orders.sql.
-- The checks are the shop's rules: an item row that breaks one is refused by the database, and
-- its whole order becomes one dead letter. They are named as PostgreSQL names them (MariaDB keeps
-- a column's unnamed CHECK inside the column, where DROP CONSTRAINT cannot reach it).
CREATE TABLE IF NOT EXISTS orders (
  order_id      VARCHAR(64) PRIMARY KEY,
  status        VARCHAR(32) NOT NULL,
  customer_name LONGTEXT,
  email         LONGTEXT,
  total         DECIMAL(12, 2) NOT NULL,
  item_count    INT NOT NULL,
  coupon        LONGTEXT,
  created_at    DATETIME(6) NOT NULL,
  updated_at    DATETIME(6) NOT NULL,
  CONSTRAINT orders_total_check CHECK (total >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS order_items (
  order_id   VARCHAR(64) NOT NULL,
  line       INT NOT NULL,
  sku        VARCHAR(64) NOT NULL,
  qty        INT NOT NULL,
  unit_price DECIMAL(12, 2) NOT NULL,
  CONSTRAINT order_items_qty_check CHECK (qty > 0),
  CONSTRAINT order_items_unit_price_check CHECK (unit_price >= 0),
  PRIMARY KEY (order_id, line),
  CONSTRAINT order_items_order FOREIGN KEY (order_id) REFERENCES orders (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every order line read, once: no key, so a line stored twice would show.
CREATE TABLE IF NOT EXISTS order_events (
  order_id VARCHAR(64) NOT NULL,
  status   VARCHAR(32) NOT NULL,
  at       DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
