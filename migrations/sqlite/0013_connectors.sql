-- Connectors managed at run time through /v1/admin/connectors (`gateway/connector_set.py`).
--
-- source 'admin': a connector defined through the API; kind, options (the connector's own
--   options as JSON, secrets included: the API never returns them) and rate (segments/s for
--   the whole connector, 0: none) are its definition.
-- source 'config': a connector of the configuration file or GATEWAY_UPSTREAM, stopped or
--   started through the API; only `enabled` is read, its definition stays in the file.
-- Every write bumps config_version in the same transaction, so each node reconciles its
-- running connectors within GATEWAY_ADMIN_REFRESH_INTERVAL.
CREATE TABLE connectors (
    name        TEXT PRIMARY KEY,
    source      TEXT NOT NULL CHECK (source IN ('admin', 'config')),
    kind        TEXT NOT NULL,
    options     TEXT NOT NULL,
    rate        REAL NOT NULL DEFAULT 0,
    enabled     BOOLEAN NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
