-- The dashboard's tables, created only where the dashboard has not
-- created them already. Layout and names are the dashboard's contract.

CREATE TABLE IF NOT EXISTS entry_context (
    name               varchar(255) PRIMARY KEY,
    title              varchar(255),
    description        text,
    timestamp_created  double precision,
    timestamp_modified double precision,
    data               jsonb
);

CREATE TABLE IF NOT EXISTS entry (
    id                 varchar(36) PRIMARY KEY,
    title              varchar(255) NOT NULL,
    content            text NOT NULL,
    kind               varchar(50) NOT NULL,
    context_id         varchar(255) NULL
                       REFERENCES entry_context (name) DEFERRABLE INITIALLY DEFERRED,
    name               varchar(255) NULL,
    data               jsonb NULL,
    priority           integer NULL,
    status             varchar(50) NULL,
    archived           boolean NOT NULL,
    parent_id          varchar(36) NULL
                       REFERENCES entry (id) DEFERRABLE INITIALLY DEFERRED,
    timestamp_created  double precision NOT NULL,
    timestamp_modified double precision NOT NULL,
    deleted_at         double precision NULL,
    UNIQUE (context_id, name)
);

CREATE TABLE IF NOT EXISTS entry_version (
    id          serial PRIMARY KEY,
    entry_id    varchar(36) NOT NULL
                REFERENCES entry (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    version_num integer NOT NULL,
    title       varchar(255) NOT NULL,
    content     text NOT NULL,
    data        jsonb NULL,
    changed_by  varchar(100) NOT NULL,
    timestamp   double precision NOT NULL,
    UNIQUE (entry_id, version_num)
);
