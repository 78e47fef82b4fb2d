package firehose

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkConvertRecord measures OpenX-style parsing and Arrow appends of
// one packed record of 25 lake rows, the packing the bridge uses.
func BenchmarkConvertRecord(b *testing.B) {
	stream := loadVotesStream(b)
	conv, err := newConverter(stream.Conversion.Columns)
	if err != nil {
		b.Fatal(err)
	}
	record := packRecord(b, 0, 25, time.Date(2024, 11, 5, 14, 3, 7, 0, time.UTC))
	builder := array.NewRecordBuilder(memory.DefaultAllocator, conv.schema)
	defer builder.Release()
	var s stage

	b.SetBytes(int64(len(record)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := conv.parse(record, &s); err != nil {
			b.Fatal(err)
		}
		conv.appendTo(builder, &s)
		if i%1000 == 999 {
			builder.NewRecordBatch().Release()
		}
	}
}
