package bridge

import "github.com/votestream/votestream/internal/kafkasec"

// KafkaSecurity configures encryption and authentication of the bridge's
// Kafka connections; see kafkasec.Config. The tally function uses the same
// type.
type KafkaSecurity = kafkasec.Config

// SASL mechanisms that KafkaSecurity supports, as Kafka names them.
const (
	SASLNone        = kafkasec.SASLNone
	SASLScramSHA256 = kafkasec.SASLScramSHA256
	SASLScramSHA512 = kafkasec.SASLScramSHA512
	SASLAWSMSKIAM   = kafkasec.SASLAWSMSKIAM
)
