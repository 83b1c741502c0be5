package kafkaconf

import (
	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// scramClient is a sarama.SCRAMClient over github.com/xdg-go/scram (RFC 5802 with
// SASLprep, as sarama's own SCRAM example uses it), one conversation per value.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

// newSCRAM returns the client generator of sarama's SCRAMClientGeneratorFunc for hash
// (scram.SHA256 or scram.SHA512).
func newSCRAM(hash scram.HashGeneratorFcn) func() sarama.SCRAMClient {
	return func() sarama.SCRAMClient { return &scramClient{hash: hash} }
}

// Begin starts a conversation.
func (s *scramClient) Begin(user, password, authzID string) error {
	c, err := s.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	s.conv = c.NewConversation()
	return nil
}

// Step answers the server's challenge.
func (s *scramClient) Step(challenge string) (string, error) { return s.conv.Step(challenge) }

// Done tells whether the conversation ended with the server verified.
func (s *scramClient) Done() bool { return s.conv.Done() }
