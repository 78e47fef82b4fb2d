-- Cheaper inserts into the votes ledger, which the tally consumer spends most
-- of its time on. The uniqueness guarantees stay: one row per vote_id and one
-- per (election_id, voter_id).
--
-- The surrogate key id was read by nothing, and its index and sequence cost
-- every insert, so vote_id becomes the primary key.
--
-- The foreign key on election_id ran a trigger per inserted row that locked
-- the elections row. The tally consumer inserts a ballot only for a voter
-- that it found in voters, whose election_id references elections, so the
-- check repeated one that the ledger makes anyway. Deleting an election no
-- longer checks votes, but it still fails while voters of the election exist.
ALTER TABLE votes DROP CONSTRAINT votes_election_id_fkey;
ALTER TABLE votes DROP COLUMN id;
ALTER TABLE votes DROP CONSTRAINT votes_vote_id_key;
ALTER TABLE votes ADD PRIMARY KEY (vote_id);
