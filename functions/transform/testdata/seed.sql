-- Election golden-2024 for the golden invocation fixtures: two candidates,
-- two regions and three registered voters.
INSERT INTO elections (id, name, election_date) VALUES ('golden-2024', 'Golden test election', '2024-11-05');
INSERT INTO regions (election_id, code, name, registered_voters) VALUES
    ('golden-2024', 'R1', 'North', 2),
    ('golden-2024', 'R2', 'South', 1);
INSERT INTO candidates (election_id, id, name, party) VALUES
    ('golden-2024', 'C1', 'Ada Alvarez', 'Green'),
    ('golden-2024', 'C2', 'Ben Brooks', 'Orange');
INSERT INTO voters (election_id, id, name, birth_year, region_code, registered_at) VALUES
    ('golden-2024', 'V1', 'Voter One', 1990, 'R1', '2024-06-01T00:00:00Z'),
    ('golden-2024', 'V2', 'Voter Two', 1950, 'R1', '2024-06-01T00:00:00Z'),
    ('golden-2024', 'V3', 'Voter Three', 2004, 'R2', '2024-06-01T00:00:00Z');
