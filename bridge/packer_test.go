package bridge

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestKeyOf(t *testing.T) {
	at := time.Date(2024, 11, 5, 23, 59, 59, 999e6, time.UTC)
	got := KeyOf("us-vt-pres-2024", at)
	want := PartitionKey{ElectionID: "us-vt-pres-2024", Date: "2024-11-05", Hour: "23"}
	if got != want {
		t.Errorf("KeyOf = %+v, want %+v", got, want)
	}
}

// packAll adds lines round-robin over keys and returns every closed record,
// flushed ones included.
func packAll(p *Packer, keys []PartitionKey, lines [][]byte) []Record {
	var records []Record
	for i, line := range lines {
		key := keys[i%len(keys)]
		records = append(records, p.Add(key, line, Source{Partition: 0, Offset: int64(i)})...)
	}
	return append(records, p.Flush()...)
}

func TestPackerNeverMixesKeys(t *testing.T) {
	keys := []PartitionKey{
		{ElectionID: "e1", Date: "2024-11-05", Hour: "10"},
		{ElectionID: "e1", Date: "2024-11-05", Hour: "11"},
		{ElectionID: "e2", Date: "2024-11-05", Hour: "10"},
	}
	var lines [][]byte
	for i := range 300 {
		lines = append(lines, fmt.Appendf(nil, `{"n":%d}`, i))
	}

	records := packAll(NewPacker(100), keys, lines)

	seen := make(map[int64]bool)
	for _, rec := range records {
		for _, src := range rec.Sources {
			if want := keys[src.Offset%int64(len(keys))]; rec.Key != want {
				t.Errorf("record with key %+v holds line %d of key %+v", rec.Key, src.Offset, want)
			}
			if seen[src.Offset] {
				t.Errorf("line %d packed twice", src.Offset)
			}
			seen[src.Offset] = true
		}
	}
	if len(seen) != len(lines) {
		t.Errorf("packed %d lines, want %d", len(seen), len(lines))
	}
}

func TestPackerRecordContent(t *testing.T) {
	p := NewPacker(1000)
	key := PartitionKey{ElectionID: "e", Date: "2024-11-05", Hour: "09"}
	p.Add(key, []byte(`{"a":1}`), Source{Offset: 7})
	p.Add(key, []byte(`{"b":2}`), Source{Offset: 8})
	records := p.Flush()

	if len(records) != 1 {
		t.Fatalf("Flush returned %d records, want 1", len(records))
	}
	if got, want := string(records[0].Data), "{\"a\":1}\n{\"b\":2}\n"; got != want {
		t.Errorf("Data = %q, want %q", got, want)
	}
	if got := len(records[0].Sources); got != 2 {
		t.Errorf("len(Sources) = %d, want 2", got)
	}
	if p.Len() != 0 {
		t.Errorf("Len after Flush = %d, want 0", p.Len())
	}
}

func TestPackerSizeLimits(t *testing.T) {
	tests := []struct {
		name      string
		target    int
		lineSizes []int
		// wantSizes are the Data lengths of the records in closing order.
		wantSizes []int
	}{
		{name: "exact fill closes at once", target: 20, lineSizes: []int{9, 9}, wantSizes: []int{20}},
		{name: "overflow starts a new record", target: 20, lineSizes: []int{9, 9, 9}, wantSizes: []int{20, 10}},
		{name: "one byte over", target: 20, lineSizes: []int{10, 10}, wantSizes: []int{11, 11}},
		{name: "single line over target", target: 20, lineSizes: []int{50}, wantSizes: []int{51}},
		{name: "big line after small ones", target: 20, lineSizes: []int{5, 50, 5}, wantSizes: []int{6, 51, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPacker(tt.target)
			key := PartitionKey{ElectionID: "e", Date: "2024-11-05", Hour: "09"}
			var records []Record
			for i, size := range tt.lineSizes {
				records = append(records, p.Add(key, bytes.Repeat([]byte("x"), size), Source{Offset: int64(i)})...)
			}
			records = append(records, p.Flush()...)

			var got []int
			for _, rec := range records {
				got = append(got, len(rec.Data))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantSizes) {
				t.Errorf("record sizes = %v, want %v", got, tt.wantSizes)
			}
			for _, rec := range records {
				if len(rec.Data) > tt.target && len(rec.Sources) > 1 {
					t.Errorf("record of %d bytes with %d lines exceeds target %d", len(rec.Data), len(rec.Sources), tt.target)
				}
			}
		})
	}
}

func TestBilledBytes(t *testing.T) {
	tests := []struct {
		size int
		want int64
	}{
		{0, 5120},
		{1, 5120},
		{5120, 5120},
		{5121, 10240},
		{20 * 1024, 20 * 1024},
	}
	for _, tt := range tests {
		if got := billedBytes(tt.size); got != tt.want {
			t.Errorf("billedBytes(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}

func TestBatcherLimits(t *testing.T) {
	record := func(size int) Record { return Record{Data: make([]byte, size)} }
	tests := []struct {
		name       string
		maxRecords int
		maxBytes   int
		sizes      []int
		// wantBatches are the record counts of the completed batches, the
		// final flush included.
		wantBatches []int
	}{
		{name: "record limit", maxRecords: 3, maxBytes: 1000, sizes: []int{1, 1, 1, 1, 1, 1, 1}, wantBatches: []int{3, 3, 1}},
		{name: "byte limit", maxRecords: 500, maxBytes: 100, sizes: []int{40, 40, 40, 40}, wantBatches: []int{2, 2}},
		{name: "byte limit exact", maxRecords: 500, maxBytes: 100, sizes: []int{50, 50, 50}, wantBatches: []int{2, 1}},
		{name: "both limits at once", maxRecords: 2, maxBytes: 100, sizes: []int{60, 60, 10}, wantBatches: []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := batcher{maxRecords: tt.maxRecords, maxBytes: tt.maxBytes}
			var got []int
			for _, size := range tt.sizes {
				for _, batch := range b.add(record(size)) {
					got = append(got, len(batch))
					var bytes int
					for _, rec := range batch {
						bytes += len(rec.Data)
					}
					if bytes > tt.maxBytes {
						t.Errorf("batch of %d bytes exceeds %d", bytes, tt.maxBytes)
					}
				}
			}
			if batch := b.flush(); batch != nil {
				got = append(got, len(batch))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantBatches) {
				t.Errorf("batches = %v, want %v", got, tt.wantBatches)
			}
		})
	}
}

func TestKeyCacheMatchesKeyOf(t *testing.T) {
	var cache keyCache
	times := []time.Time{
		time.Date(2024, 11, 5, 13, 59, 59, 999_000_000, time.UTC),
		time.Date(2024, 11, 5, 14, 0, 0, 0, time.UTC),
		time.Date(2024, 11, 5, 23, 30, 0, 0, time.UTC),
		time.Date(2024, 11, 6, 0, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 0, 1, 0, time.UTC),
		time.Date(1969, 12, 31, 22, 59, 59, 0, time.UTC),
	}
	// Twice, so that the second pass reads from the cache.
	for pass := range 2 {
		for _, election := range []string{"vt-2024", "uk-ge-2024"} {
			for _, at := range times {
				if got, want := cache.keyOf(election, at), KeyOf(election, at); got != want {
					t.Errorf("pass %d: keyOf(%s, %s) = %+v, want %+v", pass, election, at, got, want)
				}
			}
		}
	}
}

func TestKeyCacheBounded(t *testing.T) {
	var cache keyCache
	start := time.Date(2024, 11, 5, 0, 0, 0, 0, time.UTC)
	for h := range maxCachedKeys + 10 {
		at := start.Add(time.Duration(h) * time.Hour)
		if got, want := cache.keyOf("vt-2024", at), KeyOf("vt-2024", at); got != want {
			t.Fatalf("keyOf at hour %d = %+v, want %+v", h, got, want)
		}
	}
	if n := len(cache.keys); n > maxCachedKeys {
		t.Errorf("cache holds %d keys, want at most %d", n, maxCachedKeys)
	}
}
