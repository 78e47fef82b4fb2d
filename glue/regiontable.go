package glue

// RegionsTable is the Glue table of the election regions: one row per region
// and election, with the official registration and turnout figures that the
// turnout_by_region view divides by.
//
// The table is small (hundreds of rows per election) and not partitioned, so
// views can join it without the static election_id filter that the votes
// table's injected partition projection demands. Each election is one object,
// RegionsObjectKey, below RegionsPrefix.
const RegionsTable = "regions"

// RegionsPrefix is the folder of the regions table in the lake bucket.
const RegionsPrefix = "regions/"

// RegionColumns lists the columns of the regions table in file order.
var RegionColumns = []Column{
	{"election_id", TypeString, "election the region belongs to"},
	{"region_code", TypeString, "region code, equal to votes.region_code"},
	{"region_name", TypeString, "region name"},
	{"registered_voters", TypeBigint, "registered voters, NULL where the source does not publish it"},
	{"ballots_cast", TypeBigint, "official ballots cast including blank and spoiled ones, NULL where unknown"},
	{"valid_votes", TypeBigint, "official valid votes, NULL where unknown"},
}

// RegionRow is one row of the regions table. A nil figure is unknown and is
// stored as NULL.
type RegionRow struct {
	ElectionID       string
	RegionCode       string
	RegionName       string
	RegisteredVoters *int64
	BallotsCast      *int64
	ValidVotes       *int64
}

// RegionsObjectKey returns the object key of one election's regions file in
// the lake bucket.
func RegionsObjectKey(electionID string) string {
	return RegionsPrefix + electionID + ".parquet"
}
