-- Rejected ballots and running tallies. The tally consumer writes them in the
-- same transaction as the votes ledger, so a snapshot of a region is a few
-- primary-key reads instead of a scan of the ledger.

-- Every ballot that the ledger did not accept, with its reason: a later
-- ballot of a voter who has voted (duplicate_voter), an unregistered voter
-- (unknown_voter), a candidate not on the ballot (unknown_candidate), or a
-- value that is not a valid vote (malformed).
CREATE TABLE rejected_votes (
    id              bigserial PRIMARY KEY,
    -- NULL when the value has no readable UUID vote_id.
    vote_id         uuid UNIQUE,
    -- Empty when the value names no election.
    election_id     text NOT NULL,
    voter_id        text,
    candidate_id    text,
    -- Region of the voter's registration, empty when the voter is unknown.
    region_code     text NOT NULL,
    cast_at         timestamptz,
    reason          text NOT NULL,
    -- The parse or validation error of a malformed value.
    detail          text NOT NULL DEFAULT '',
    kafka_topic     text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    rejected_at     timestamptz NOT NULL DEFAULT now(),
    -- A replayed batch inserts nothing twice, also for values without a vote_id.
    UNIQUE (kafka_topic, kafka_partition, kafka_offset)
);

-- Copies of a ballot already in votes or rejected_votes that arrived at
-- another offset: the producer sent the same message twice. They change no
-- count; this table only records that they were seen.
CREATE TABLE redelivered_votes (
    kafka_topic     text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    vote_id         uuid NOT NULL,
    election_id     text NOT NULL,
    seen_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset)
);

-- Accepted ballots per election, region and candidate. The sum over
-- candidates of a region equals tally_regions.accepted.
CREATE TABLE tally_candidates (
    election_id  text NOT NULL,
    region_code  text NOT NULL,
    candidate_id text NOT NULL,
    votes        bigint NOT NULL,
    PRIMARY KEY (election_id, region_code, candidate_id)
);

-- Accepted ballots per region and when the region's counts last changed.
CREATE TABLE tally_regions (
    election_id text NOT NULL,
    region_code text NOT NULL,
    accepted    bigint NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (election_id, region_code)
);

-- Rejected ballots per reason. region_code is empty for voters that are not
-- registered and for malformed values; election_id is empty when the value
-- names no election.
CREATE TABLE tally_rejected (
    election_id text NOT NULL,
    region_code text NOT NULL,
    reason      text NOT NULL,
    ballots     bigint NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (election_id, region_code, reason)
);

-- Accepted ballots per age band of the voter on election day (see
-- glue.AgeBand for the bands).
CREATE TABLE tally_age_bands (
    election_id text NOT NULL,
    region_code text NOT NULL,
    age_band    text NOT NULL,
    votes       bigint NOT NULL,
    PRIMARY KEY (election_id, region_code, age_band)
);

-- Accepted ballots per quarter hour of cast_at; bucket is the start of the
-- quarter hour in UTC.
CREATE TABLE tally_timeline (
    election_id text NOT NULL,
    region_code text NOT NULL,
    bucket      timestamptz NOT NULL,
    votes       bigint NOT NULL,
    PRIMARY KEY (election_id, region_code, bucket)
);
