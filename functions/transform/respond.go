package transform

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/votestream/votestream/glue"
)

// responseEnvelopeSize is the size of {"records":[]} around the records.
var responseEnvelopeSize = len(`{"records":[]}`)

// errOverBudget is the failure reason of a record that did not fit in the response.
var errOverBudget = fmt.Errorf("the response budget is used up: the record goes to the error prefix for a redrive")

// respond builds the response records in input order. The budget is checked
// as records are added: the space of a failed record is reserved for every
// record up front, so that every record can be returned, and a record becomes
// Ok only if its rows still fit. Once one record does not fit, all later
// records fail too, so the failed records are a suffix of the batch.
func (h *Handler) respond(event Event, decoded []decodedRecord, voters map[voterKey]voterInfo,
	sizeOf func(ResponseRecord) int, logger *slog.Logger, counts *invocationCounts) (Response, error) {
	resp := Response{Records: make([]ResponseRecord, len(event.Records))}
	used := responseEnvelopeSize
	for i, r := range event.Records {
		resp.Records[i] = failedRecord(r)
		used += sizeOf(resp.Records[i])
		if i > 0 {
			used++ // the comma between records
		}
	}

	exhausted := false
	var buf bytes.Buffer
	for i, d := range decoded {
		if d.err != nil {
			continue
		}
		if exhausted {
			counts.overBudget++
			h.logFailure(logger, counts, event.Records[i].RecordID, errOverBudget)
			continue
		}

		buf.Reset()
		var rejected int
		for _, b := range d.ballots {
			row := h.row(b, voters)
			if row.Status == glue.StatusRejected {
				rejected++
			}
			line, err := json.Marshal(row)
			if err != nil {
				return Response{}, fmt.Errorf("encode row of vote %s: %w", b.vote.VoteID, err)
			}
			buf.Write(line)
			buf.WriteByte('\n')
		}

		ok := ResponseRecord{
			RecordID:      event.Records[i].RecordID,
			Result:        events.KinesisFirehoseTransformedStateOk,
			Data:          bytes.Clone(buf.Bytes()),
			PartitionKeys: d.partitionKeys,
			FromMSK:       event.Records[i].FromMSK(),
		}
		extra := sizeOf(ok) - sizeOf(resp.Records[i])
		if used+extra > h.budget {
			exhausted = true
			counts.overBudget++
			h.logFailure(logger, counts, event.Records[i].RecordID, errOverBudget)
			continue
		}
		used += extra
		resp.Records[i] = ok
		counts.rows += len(d.ballots)
		counts.rejected += rejected
	}
	counts.responseBytes = used
	return resp, nil
}

func failedRecord(r EventRecord) ResponseRecord {
	return ResponseRecord{
		RecordID: r.RecordID,
		Result:   events.KinesisFirehoseTransformedStateProcessingFailed,
		FromMSK:  r.FromMSK(),
	}
}

// row enriches one ballot. A ballot whose voter or candidate is missing
// becomes a rejected row; the voter check comes first.
func (h *Handler) row(b ballot, voters map[voterKey]voterInfo) glue.Row {
	v := b.vote
	row := glue.Row{
		VoteID:         v.VoteID,
		VoterKey:       h.voterKey(v.ElectionID, v.VoterID),
		CandidateID:    v.CandidateID,
		Channel:        v.Channel,
		CastAt:         glue.FormatTimestamp(b.castAt),
		Status:         glue.StatusAccepted,
		KafkaTopic:     b.topic,
		KafkaPartition: b.partition,
		KafkaOffset:    b.offset,
		KafkaTimestamp: glue.FormatTimestamp(b.kafkaTimestamp),
	}

	e, electionKnown := h.catalog.election(v.ElectionID)
	voter, voterKnown := voters[voterKey{electionID: v.ElectionID, voterID: v.VoterID}]
	if electionKnown && voterKnown {
		row.RegionCode = voter.regionCode
		row.RegionName = e.regions[voter.regionCode]
		row.AgeBand = glue.AgeBand(glue.AgeOnElectionDay(voter.birthYear, e.date.Year()))
	}
	if electionKnown {
		if c, ok := e.candidates[v.CandidateID]; ok {
			row.CandidateName, row.Party = c.name, c.party
		}
	}

	switch {
	case !voterKnown:
		row.Status, row.Reason = glue.StatusRejected, glue.ReasonUnknownVoter
	case !hasCandidate(e, v.CandidateID):
		row.Status = glue.StatusRejected
		row.Reason = glue.ReasonUnknownCandidate
		if h.catalog.inOtherElection(v.CandidateID, v.ElectionID) {
			row.Reason = glue.ReasonCandidateOtherElection
		}
	}
	return row
}

func hasCandidate(e *electionInfo, id string) bool {
	if e == nil {
		return false
	}
	_, ok := e.candidates[id]
	return ok
}

// voterKey returns hex(HMAC-SHA256(secret, electionID + "\x00" + voterID)).
// The NUL separator keeps ("a", "1b") and ("a1", "b") apart, because neither
// id can contain it.
func (h *Handler) voterKey(electionID, voterID string) string {
	mac := hmac.New(sha256.New, h.secret)
	mac.Write([]byte(electionID))
	mac.Write([]byte{0})
	mac.Write([]byte(voterID))
	return hex.EncodeToString(mac.Sum(nil))
}

// recordSize returns the JSON size of r in the shape HandleEvent returns.
func recordSize(r ResponseRecord) int {
	return jsonSizeWithoutData(r) + base64.StdEncoding.EncodedLen(len(r.Data))
}

// lambdaRecordSize returns the JSON size of r in aws-lambda-go's shape, which
// Handle returns and which also writes an empty otfMetadata object.
func lambdaRecordSize(r ResponseRecord) int {
	data := r.Data
	r.Data = nil
	encoded, err := json.Marshal(lambdaRecord(r))
	if err != nil {
		// Marshalling strings, maps of strings and bytes cannot fail.
		panic(err)
	}
	return len(encoded) + base64.StdEncoding.EncodedLen(len(data))
}

func jsonSizeWithoutData(r ResponseRecord) int {
	r.Data = nil
	encoded, err := json.Marshal(r)
	if err != nil {
		// Marshalling strings, maps of strings and bytes cannot fail.
		panic(err)
	}
	return len(encoded)
}
