package kafkaconf

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

func sha256Hash() hash.Hash { return sha256.New() }
func sha512Hash() hash.Hash { return sha512.New() }

// scram is a SCRAM client (RFC 5802, as Kafka uses it: no channel binding), one
// conversation per value. It implements sarama.SCRAMClient.
type scram struct {
	h               func() hash.Hash
	user, password  string
	authz           string
	step            int
	clientNonce     string
	clientFirstBare string
	serverSignature []byte
	done            bool
	randRead        func([]byte) (int, error)
}

func newSCRAM(h func() hash.Hash) *scram { return &scram{h: h, randRead: rand.Read} }

// Begin starts a conversation.
func (s *scram) Begin(user, password, authzID string) error {
	s.user, s.password, s.authz, s.step, s.done = user, password, authzID, 0, false
	return nil
}

// Done reports whether the server's final message was verified.
func (s *scram) Done() bool { return s.done }

// saslName escapes a user name for SCRAM.
func saslName(u string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(u)
}

// gs2Header is the GS2 header: no channel binding, and the authorization identity.
func (s *scram) gs2Header() string {
	if s.authz == "" {
		return "n,,"
	}
	return "n,a=" + saslName(s.authz) + ","
}

// Step answers the server's challenge ("" for the first message).
func (s *scram) Step(challenge string) (string, error) {
	s.step++
	switch s.step {
	case 1:
		nonce := make([]byte, 24)
		if _, err := s.randRead(nonce); err != nil {
			return "", fmt.Errorf("SCRAM nonce: %w", err)
		}
		s.clientNonce = base64.RawStdEncoding.EncodeToString(nonce)
		s.clientFirstBare = "n=" + saslName(s.user) + ",r=" + s.clientNonce
		return s.gs2Header() + s.clientFirstBare, nil
	case 2:
		return s.final(challenge)
	case 3:
		attrs := parseAttrs(challenge)
		if e, ok := attrs["e"]; ok {
			return "", fmt.Errorf("SCRAM: the server refused the proof: %s", e)
		}
		v, err := base64.StdEncoding.DecodeString(attrs["v"])
		if err != nil || !hmac.Equal(v, s.serverSignature) {
			return "", errors.New("SCRAM: the server's signature does not match: it does not know the password (a broker impersonated?)")
		}
		s.done = true
		return "", nil
	}
	return "", errors.New("SCRAM: conversation already over")
}

// final computes the client-final-message from the server-first-message.
func (s *scram) final(serverFirst string) (string, error) {
	attrs := parseAttrs(serverFirst)
	nonce, saltB64, iterS := attrs["r"], attrs["s"], attrs["i"]
	if !strings.HasPrefix(nonce, s.clientNonce) || len(nonce) == len(s.clientNonce) {
		return "", errors.New("SCRAM: the server's nonce does not extend the client's")
	}
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil {
		return "", fmt.Errorf("SCRAM: bad salt from the server: %w", err)
	}
	iter, err := strconv.Atoi(iterS)
	if err != nil || iter < 1 {
		return "", fmt.Errorf("SCRAM: bad iteration count %q from the server", iterS)
	}
	salted, err := pbkdf2.Key(s.h, s.password, salt, iter, s.h().Size())
	if err != nil {
		return "", fmt.Errorf("SCRAM: derive the key: %w", err)
	}
	clientKey := s.hmac(salted, "Client Key")
	hh := s.h()
	hh.Write(clientKey)
	storedKey := hh.Sum(nil)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(s.gs2Header())) + ",r=" + nonce
	authMessage := s.clientFirstBare + "," + serverFirst + "," + withoutProof
	clientSig := s.hmac(storedKey, authMessage)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ clientSig[i]
	}
	s.serverSignature = s.hmac(s.hmac(salted, "Server Key"), authMessage)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

func (s *scram) hmac(key []byte, msg string) []byte {
	m := hmac.New(s.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// parseAttrs splits "a=1,b=2" into its attributes.
func parseAttrs(msg string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Split(msg, ",") {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[k] = v
		}
	}
	return out
}
