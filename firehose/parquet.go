package firehose

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/uuid"
)

// writer is what writeFile hands its callback: buffered, without Close,
// so that a Parquet writer's Close does not close the file.
type writer interface {
	Write(p []byte) (int, error)
}

func parquetProperties(compression string) (*parquet.WriterProperties, error) {
	codecs := map[string]compress.Compression{
		"SNAPPY":       compress.Codecs.Snappy,
		"GZIP":         compress.Codecs.Gzip,
		"UNCOMPRESSED": compress.Codecs.Uncompressed,
	}
	codec, ok := codecs[compression]
	if !ok {
		return nil, fmt.Errorf("Parquet compression %q is invalid: use SNAPPY, GZIP or UNCOMPRESSED", compression)
	}
	return parquet.NewWriterProperties(parquet.WithCompression(codec)), nil
}

// writeParquet writes a delivery buffer as one Parquet file of one row
// group and returns its key.
func (st *streamState) writeParquet(ctx context.Context, buf *partitionBuffer) (string, error) {
	record := buf.builder.NewRecordBatch()
	buf.builder.Release()
	defer record.Release()

	key := objectName(buf.prefix, st.cfg.Name, st.srv.now(), ".parquet")
	err := st.writeObject(ctx, key, func(w writer) error {
		fw, err := pqarrow.NewFileWriter(st.conv.schema, w, st.writerProps, pqarrow.DefaultWriterProps())
		if err != nil {
			return err
		}
		if err := fw.Write(record); err != nil {
			fw.Close()
			return err
		}
		return fw.Close()
	})
	return key, err
}

// objectPath is where the object key of the stream's bucket lives locally.
func (st *streamState) objectPath(key string) string {
	return filepath.Join(st.srv.opts.LakeDir, st.cfg.Bucket, filepath.FromSlash(key))
}

// writeFile writes a file atomically: into a hidden temporary file in
// the same directory, synced, then renamed, so that a reader of the lake
// never sees a partial object.
func writeFile(path string, write func(w writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".tmp-"+uuid.NewString())
	file, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	buffered := bufio.NewWriterSize(file, 1<<20)
	err = write(buffered)
	if err == nil {
		err = buffered.Flush()
	}
	if err == nil {
		err = file.Sync()
	}
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
