package firehose

import (
	"bytes"
	"testing"
)

func TestChunksKeepBytesInOrder(t *testing.T) {
	var c chunks
	var want []byte
	// Pieces of several sizes, one larger than a chunk, cross chunk boundaries.
	for i, size := range []int{10, chunkSize - 5, 3 * chunkSize / 2, 1, chunkSize} {
		piece := bytes.Repeat([]byte{byte('a' + i)}, size)
		c.append(piece)
		want = append(want, piece...)
	}

	var got bytes.Buffer
	if err := c.writeTo(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("writeTo wrote %d bytes that differ from the %d appended", got.Len(), len(want))
	}
	for i, chunk := range c {
		if cap(chunk) != chunkSize {
			t.Errorf("chunk %d has capacity %d, want %d", i, cap(chunk), chunkSize)
		}
	}
}
