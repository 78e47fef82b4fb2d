-- The election catalogue and the voter register that the transformation
-- Lambda enriches ballots from, and the ledger of accepted ballots.

CREATE TABLE elections (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    election_date date NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE regions (
    election_id       text NOT NULL REFERENCES elections (id),
    code              text NOT NULL,
    name              text NOT NULL,
    -- NULL where the source does not publish the figure.
    registered_voters bigint,
    ballots_cast      bigint,
    valid_votes       bigint,
    PRIMARY KEY (election_id, code)
);

CREATE TABLE candidates (
    election_id text NOT NULL REFERENCES elections (id),
    id          text NOT NULL,
    name        text NOT NULL,
    party       text NOT NULL,
    PRIMARY KEY (election_id, id)
);

-- Voters carry a birth year instead of a frozen age, so that the age on any
-- election day can be derived. The region is not a foreign key: the table is
-- bulk-loaded with COPY, and a per-row check would slow a national register.
CREATE TABLE voters (
    election_id   text NOT NULL REFERENCES elections (id),
    id            text NOT NULL,
    name          text NOT NULL,
    birth_year    integer NOT NULL,
    region_code   text NOT NULL,
    registered_at timestamptz NOT NULL,
    PRIMARY KEY (election_id, id)
);

-- The ledger: the first ballot of a voter in Kafka order is accepted here.
CREATE TABLE votes (
    id              bigserial PRIMARY KEY,
    vote_id         uuid NOT NULL UNIQUE,
    election_id     text NOT NULL REFERENCES elections (id),
    voter_id        text NOT NULL,
    candidate_id    text NOT NULL,
    "timestamp"     timestamptz NOT NULL,
    channel         text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    UNIQUE (election_id, voter_id)
);
