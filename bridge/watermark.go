package bridge

import (
	"fmt"
	"slices"
)

// Watermark tracks the records of one Kafka partition from the moment they
// are read until they are done, and computes the offset that is safe to
// commit: every record below it is done. Records finish out of order because
// Firehose calls and dead-letter writes run concurrently, so a record that is
// done early only moves the watermark once every record before it is done.
//
// Offsets need not be contiguous: compaction and transaction markers leave
// gaps, so the watermark trusts only the offsets it was given.
//
// A Watermark is not safe for concurrent use; the bridge guards its
// watermarks with one mutex.
type Watermark struct {
	// offsets[head:] are the records read but not yet passed by the
	// watermark, in read order; done[i] tells whether offsets[i] is done.
	offsets []int64
	done    []bool
	head    int

	// next is the offset after the last record added, or -1 before the first.
	next int64

	// revoked freezes the watermark once its partition is revoked or lost,
	// so that late acknowledgements cannot move it.
	revoked bool
}

// NewWatermark returns a watermark with no records.
func NewWatermark() *Watermark {
	return &Watermark{next: -1}
}

// Add records that offset was read. Offsets must be added in increasing
// order, as Kafka returns them within one partition.
func (w *Watermark) Add(offset int64) error {
	if w.revoked {
		return fmt.Errorf("add offset %d: the partition was revoked", offset)
	}
	if w.next >= 0 && offset < w.next {
		return fmt.Errorf("add offset %d: offsets must increase, and the last one added was %d", offset, w.next-1)
	}
	w.offsets = append(w.offsets, offset)
	w.done = append(w.done, false)
	w.next = offset + 1
	return nil
}

// MarkDone records that offset was accepted by Firehose or written to the
// dead-letter topic. It returns false when the watermark was revoked or when
// offset is unknown or already passed; the caller then has nothing to commit.
func (w *Watermark) MarkDone(offset int64) bool {
	if w.revoked {
		return false
	}
	i, found := slices.BinarySearch(w.offsets[w.head:], offset)
	if !found {
		return false
	}
	w.done[w.head+i] = true
	w.advance()
	return true
}

// advance moves head past the done records at the front and reclaims the
// space they used once it is at least half of the slice.
func (w *Watermark) advance() {
	for w.head < len(w.offsets) && w.done[w.head] {
		w.head++
	}
	if w.head > 0 && w.head >= len(w.offsets)/2 {
		n := copy(w.offsets, w.offsets[w.head:])
		copy(w.done, w.done[w.head:])
		w.offsets = w.offsets[:n]
		w.done = w.done[:n]
		w.head = 0
	}
}

// Commit returns the offset to commit: the first record that is not done,
// or one past the last record when all are done. ok is false before the
// first record is added, when there is nothing to commit.
func (w *Watermark) Commit() (offset int64, ok bool) {
	if w.next < 0 {
		return 0, false
	}
	if w.head < len(w.offsets) {
		return w.offsets[w.head], true
	}
	return w.next, true
}

// Pending returns the number of records added and not yet passed by the
// watermark, including records that are done but wait behind an earlier one.
func (w *Watermark) Pending() int {
	return len(w.offsets) - w.head
}

// Revoke freezes the watermark and returns the offset that is safe to
// commit at that moment, as Commit does. After Revoke, MarkDone has no
// effect: the partition's next owner reads the unfinished records again.
func (w *Watermark) Revoke() (offset int64, ok bool) {
	offset, ok = w.Commit()
	w.revoked = true
	return offset, ok
}

// Revoked reports whether Revoke was called.
func (w *Watermark) Revoked() bool {
	return w.revoked
}
