package bridge

// batcher collects closed records into PutRecordBatch calls that respect the
// per-call limits on record count and total data bytes.
type batcher struct {
	maxRecords int
	maxBytes   int

	current []Record
	bytes   int
}

// add appends rec to the current batch and returns the batches that this
// completed: the previous batch when rec would exceed the byte limit, and the
// current one when rec fills it to the record limit.
func (b *batcher) add(rec Record) [][]Record {
	var full [][]Record
	if len(b.current) > 0 && b.bytes+len(rec.Data) > b.maxBytes {
		full = append(full, b.flush())
	}
	b.current = append(b.current, rec)
	b.bytes += len(rec.Data)
	if len(b.current) >= b.maxRecords {
		full = append(full, b.flush())
	}
	return full
}

// flush returns the current batch, or nil when it is empty, and starts a new one.
func (b *batcher) flush() []Record {
	if len(b.current) == 0 {
		return nil
	}
	full := b.current
	b.current = nil
	b.bytes = 0
	return full
}

// len returns the number of records in the current batch.
func (b *batcher) len() int {
	return len(b.current)
}
