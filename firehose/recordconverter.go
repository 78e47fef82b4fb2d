package firehose

import (
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// RecordConverter applies a delivery stream's record format conversion
// outside a Server: the same OpenX JSON parsing into rows of the Glue table,
// and the same Parquet writer settings. Benchmarks and tools use it to
// convert transformed records without buffering, partitioning or delivery.
// It is not safe for concurrent use.
type RecordConverter struct {
	conv  *converter
	props *parquet.WriterProperties

	// builder holds the rows added since the last WriteParquet.
	builder *array.RecordBuilder
	stage   stage
	rows    int
}

// NewRecordConverter returns a converter for conversion, such as the
// Conversion of a Stream from LoadTemplate. Call Release when done.
func NewRecordConverter(conversion *Conversion) (*RecordConverter, error) {
	if conversion == nil {
		return nil, errors.New("the stream has no record format conversion")
	}
	conv, err := newConverter(conversion.Columns)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", conversion.TableLogicalID, err)
	}
	props, err := parquetProperties(conversion.Compression)
	if err != nil {
		return nil, err
	}
	return &RecordConverter{
		conv:    conv,
		props:   props,
		builder: array.NewRecordBuilder(memory.DefaultAllocator, conv.schema),
	}, nil
}

// Add converts one record of JSON objects into rows. A record that fails
// conversion adds no row, and its error is the reason a Server writes it to
// the format-conversion-failed error prefix.
func (rc *RecordConverter) Add(record []byte) error {
	if err := rc.conv.parse(record, &rc.stage); err != nil {
		return err
	}
	rc.conv.appendTo(rc.builder, &rc.stage)
	rc.rows += rc.stage.rows
	return nil
}

// Rows returns the number of rows added since the last WriteParquet.
func (rc *RecordConverter) Rows() int {
	return rc.rows
}

// WriteParquet writes the rows added since the last call to w as one Parquet
// file of one row group, as a Server writes one delivery buffer, and starts
// a new set of rows.
func (rc *RecordConverter) WriteParquet(w io.Writer) error {
	record := rc.builder.NewRecordBatch()
	defer record.Release()
	rc.rows = 0

	// The wrapper hides any Close method of w, which the Parquet writer's
	// Close would otherwise call.
	fw, err := pqarrow.NewFileWriter(rc.conv.schema, struct{ io.Writer }{w}, rc.props, pqarrow.DefaultWriterProps())
	if err != nil {
		return fmt.Errorf("create Parquet writer: %w", err)
	}
	if err := fw.Write(record); err != nil {
		fw.Close()
		return fmt.Errorf("write %d rows to Parquet: %w", record.NumRows(), err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("close Parquet file: %w", err)
	}
	return nil
}

// Release frees the rows not yet written.
func (rc *RecordConverter) Release() {
	rc.builder.Release()
}
