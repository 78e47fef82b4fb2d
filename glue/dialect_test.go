package glue

import (
	"strings"
	"testing"
)

func TestForDuckDBRewritesIntegerDivision(t *testing.T) {
	got := ForDuckDB("SELECT (minute(cast_at) / 15) * INTERVAL '15' MINUTE, a / 2 FROM t")
	want := "SELECT (minute(cast_at) // 15) * INTERVAL '15' MINUTE, a / 2 FROM t"
	if got != want {
		t.Errorf("ForDuckDB = %q, want %q", got, want)
	}
}

func TestAthenaViewDDLCoversEveryView(t *testing.T) {
	ddl := AthenaViewDDL("votestream")
	if len(ddl) != len(Views) {
		t.Fatalf("AthenaViewDDL returned %d statements, want %d", len(ddl), len(Views))
	}
	for i, v := range Views {
		prefix := `CREATE OR REPLACE VIEW "votestream"."` + v.Name + `" AS`
		if !strings.HasPrefix(ddl[i], prefix) {
			t.Errorf("statement %d starts %q, want %q", i, ddl[i][:min(len(ddl[i]), 60)], prefix)
		}
		if !strings.HasSuffix(ddl[i], v.SQL) {
			t.Errorf("statement %d does not end with the Trino SQL of %s", i, v.Name)
		}
	}
}
