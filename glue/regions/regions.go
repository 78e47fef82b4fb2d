// Package regions writes the regions table of the lake: one Parquet file per
// election with the region codes, names and official figures that the
// turnout_by_region view joins to the votes. The rows come from the election
// files or from the PostgreSQL regions table; the columns are
// glue.RegionColumns.
//
// Locally WriteLake puts the file into the lake directory. On AWS, a deploy
// step encodes the same file with Encode and uploads it to the lake bucket at
// glue.RegionsObjectKey.
package regions

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/internal/election"
)

// FromElection returns the regions of an election as table rows. Figures
// that the regions file leaves blank (-1 in election.Region) become NULL.
func FromElection(e *election.Election) []glue.RegionRow {
	rows := make([]glue.RegionRow, 0, len(e.Regions))
	for _, r := range e.Regions {
		rows = append(rows, glue.RegionRow{
			ElectionID:       e.ID,
			RegionCode:       r.Code,
			RegionName:       r.Name,
			RegisteredVoters: known(r.RegisteredVoters),
			BallotsCast:      known(r.BallotsCast),
			ValidVotes:       known(r.ValidVotes),
		})
	}
	return rows
}

func known(n int64) *int64 {
	if n < 0 {
		return nil
	}
	return &n
}

// Querier is the part of pgx.Conn, pgx.Tx and pgxpool.Pool that FromPostgres
// uses.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// FromPostgres reads the regions of one election from the PostgreSQL regions
// table, ordered by code.
func FromPostgres(ctx context.Context, db Querier, electionID string) ([]glue.RegionRow, error) {
	rows, err := db.Query(ctx, `SELECT code, name, registered_voters, ballots_cast, valid_votes
FROM regions WHERE election_id = $1 ORDER BY code`, electionID)
	if err != nil {
		return nil, fmt.Errorf("read regions of election %s: %w", electionID, err)
	}
	result, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (glue.RegionRow, error) {
		r := glue.RegionRow{ElectionID: electionID}
		err := row.Scan(&r.RegionCode, &r.RegionName, &r.RegisteredVoters, &r.BallotsCast, &r.ValidVotes)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read regions of election %s: %w", electionID, err)
	}
	return result, nil
}

// schema is the Arrow schema of glue.RegionColumns. Every column is nullable,
// as Glue columns are.
func schema() *arrow.Schema {
	types := map[string]arrow.DataType{
		glue.TypeString: arrow.BinaryTypes.String,
		glue.TypeBigint: arrow.PrimitiveTypes.Int64,
	}
	fields := make([]arrow.Field, 0, len(glue.RegionColumns))
	for _, c := range glue.RegionColumns {
		t, ok := types[c.Type]
		if !ok {
			panic(fmt.Sprintf("regions: no Arrow type for Glue type %q of column %s", c.Type, c.Name))
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: t, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// Encode writes rows as one SNAPPY-compressed Parquet file with the columns
// of glue.RegionColumns. It leaves w open.
func Encode(w io.Writer, rows []glue.RegionRow) error {
	s := schema()
	builder := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer builder.Release()

	for _, r := range rows {
		values := []any{r.ElectionID, r.RegionCode, r.RegionName, r.RegisteredVoters, r.BallotsCast, r.ValidVotes}
		for i, v := range values {
			switch v := v.(type) {
			case string:
				builder.Field(i).(*array.StringBuilder).Append(v)
			case *int64:
				b := builder.Field(i).(*array.Int64Builder)
				if v == nil {
					b.AppendNull()
				} else {
					b.Append(*v)
				}
			}
		}
	}
	record := builder.NewRecordBatch()
	defer record.Release()

	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
	// The Parquet writer's Close closes a writer that is an io.Closer, so w is
	// wrapped to stay open for the caller.
	fw, err := pqarrow.NewFileWriter(s, struct{ io.Writer }{w}, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return fmt.Errorf("encode %d regions as Parquet: %w", len(rows), err)
	}
	if err := fw.Write(record); err != nil {
		fw.Close()
		return fmt.Errorf("encode %d regions as Parquet: %w", len(rows), err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("encode %d regions as Parquet: %w", len(rows), err)
	}
	return nil
}

// WriteLake writes the regions of one election to
// bucketDir/glue.RegionsObjectKey(electionID), replacing an earlier file, and
// returns its path. Every row must belong to electionID. The file appears
// whole or not at all, because it is written under a temporary name and
// renamed.
func WriteLake(bucketDir, electionID string, rows []glue.RegionRow) (string, error) {
	if err := election.ValidateID(electionID); err != nil {
		return "", err
	}
	for _, r := range rows {
		if r.ElectionID != electionID {
			return "", fmt.Errorf("write regions of election %s: region %s belongs to election %q", electionID, r.RegionCode, r.ElectionID)
		}
	}

	path := filepath.Join(bucketDir, filepath.FromSlash(glue.RegionsObjectKey(electionID)))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("write regions of election %s: %w", electionID, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".regions-*.tmp")
	if err != nil {
		return "", fmt.Errorf("write regions of election %s: %w", electionID, err)
	}
	defer os.Remove(tmp.Name())

	if err := Encode(tmp, rows); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}
