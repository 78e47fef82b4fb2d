package bridge

import (
	"time"

	"github.com/votestream/votestream/glue"
)

// billingUnit is the size to which Firehose rounds each ingested record up
// for billing: 5 KiB, per the Amazon Data Firehose pricing and quotas pages.
const billingUnit = 5 * 1024

// billedBytes returns the bytes Firehose bills for a record of n bytes.
func billedBytes(n int) int64 {
	units := (n + billingUnit - 1) / billingUnit
	if units == 0 {
		units = 1
	}
	return int64(units) * billingUnit
}

// PartitionKey is the set of dynamic-partitioning keys of one envelope: the
// lake prefix it lands under. One Firehose record holds only envelopes with
// the same key, so that the transformation Lambda can return one set of
// partition keys per record.
type PartitionKey struct {
	ElectionID string
	Date       string
	Hour       string
}

// KeyOf returns the partition key of a ballot of electionID cast at castAt,
// as glue.PartitionValues defines it.
func KeyOf(electionID string, castAt time.Time) PartitionKey {
	values := glue.PartitionValues(electionID, castAt)
	return PartitionKey{ElectionID: values["election_id"], Date: values["dt"], Hour: values["hour"]}
}

// maxCachedKeys bounds a keyCache. An election has one key per polling
// hour, so the cache is cleared only when a topic mixes many elections.
const maxCachedKeys = 4096

// keyCache memoizes KeyOf by election and hour. KeyOf formats a date and an
// hour, which cost the bridge about as much CPU as parsing the ballot. A
// keyCache is not safe for concurrent use.
type keyCache struct {
	keys map[hourOf]PartitionKey
}

type hourOf struct {
	electionID string
	unixHour   int64
}

func (c *keyCache) keyOf(electionID string, castAt time.Time) PartitionKey {
	seconds := castAt.Unix()
	if seconds < 0 {
		// Round down, because division rounds toward zero.
		seconds -= 3599
	}
	id := hourOf{electionID, seconds / 3600}
	if key, ok := c.keys[id]; ok {
		return key
	}
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = make(map[hourOf]PartitionKey)
	}
	key := KeyOf(electionID, castAt)
	c.keys[id] = key
	return key
}

// Source is the Kafka coordinates of one envelope in a packed record.
type Source struct {
	Partition int32
	Offset    int64

	// mark is the watermark of the partition at the time the record was
	// read; nil in tests that pack without a consumer.
	mark *Watermark
}

// Record is one packed Firehose record: envelopes of one partition key, each
// followed by a newline.
type Record struct {
	Key     PartitionKey
	Data    []byte
	Sources []Source

	// unpackedBilled is the amount Firehose would bill for the same
	// envelopes sent one per record.
	unpackedBilled int64
}

// Packer groups envelope lines by partition key into records of at most
// Target bytes. A line that alone exceeds Target becomes a record of its own;
// the caller keeps lines over the Firehose record limit out of the packer.
//
// A Packer is not safe for concurrent use.
type Packer struct {
	target int
	open   map[PartitionKey]*Record
}

// NewPacker returns a packer that closes a record before it would exceed
// target bytes.
func NewPacker(target int) *Packer {
	return &Packer{target: target, open: make(map[PartitionKey]*Record)}
}

// Add appends line and a newline to the open record of key and returns the
// records that this closed: none, the previous open record of key when line
// did not fit, and the new record itself when line fills it to Target.
func (p *Packer) Add(key PartitionKey, line []byte, src Source) []Record {
	var closed []Record
	size := len(line) + 1

	rec := p.open[key]
	if rec != nil && len(rec.Data)+size > p.target {
		closed = append(closed, *rec)
		delete(p.open, key)
		rec = nil
	}
	if rec == nil {
		capacity := max(p.target, size)
		rec = &Record{Key: key, Data: make([]byte, 0, capacity)}
		p.open[key] = rec
	}

	rec.Data = append(rec.Data, line...)
	rec.Data = append(rec.Data, '\n')
	rec.Sources = append(rec.Sources, src)
	rec.unpackedBilled += billedBytes(size)

	if len(rec.Data) >= p.target {
		closed = append(closed, *rec)
		delete(p.open, key)
	}
	return closed
}

// Flush closes and returns every open record.
func (p *Packer) Flush() []Record {
	closed := make([]Record, 0, len(p.open))
	for key, rec := range p.open {
		closed = append(closed, *rec)
		delete(p.open, key)
	}
	return closed
}

// Len returns the number of open records.
func (p *Packer) Len() int {
	return len(p.open)
}
