package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// PayloadType is the DSSE payload type of an in-toto statement.
const PayloadType = "application/vnd.in-toto+json"

// Envelope is a DSSE envelope (https://github.com/secure-systems-lab/dsse):
// payload and signatures base64-encoded, as JSON carries them.
type Envelope struct {
	Payload     string      `json:"payload"`
	PayloadType string      `json:"payloadType"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature of an Envelope.
type Signature struct {
	Sig   string `json:"sig"`
	KeyID string `json:"keyid,omitempty"`
}

// PAE is DSSE's pre-authentication encoding of a payload: what is signed.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, 32+len(payloadType)+len(payload))
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// SignEnvelope signs payload of payloadType with s.
func SignEnvelope(ctx context.Context, s Signer, payloadType string, payload []byte) (Envelope, error) {
	sig, err := s.Sign(ctx, PAE(payloadType, payload))
	if err != nil {
		return Envelope{}, fmt.Errorf("sign %s: %w", payloadType, err)
	}
	return Envelope{
		Payload:     base64.StdEncoding.EncodeToString(payload),
		PayloadType: payloadType,
		Signatures:  []Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}, nil
}

// Open checks that one of e's signatures verifies with pub and returns the
// payload. It fails with ErrBadSignature when none does.
func (e Envelope) Open(pub any) ([]byte, error) {
	payload, err := decodeBase64(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("DSSE payload is not base64: %w", err)
	}
	if len(e.Signatures) == 0 {
		return nil, fmt.Errorf("DSSE envelope has no signature: %w", ErrBadSignature)
	}
	pae := PAE(e.PayloadType, payload)
	var errs []error
	for _, s := range e.Signatures {
		sig, err := decodeBase64(s.Sig)
		if err != nil {
			errs = append(errs, fmt.Errorf("signature is not base64: %w", err))
			continue
		}
		if err := verifySig(pub, pae, sig); err != nil {
			errs = append(errs, err)
			continue
		}
		return payload, nil
	}
	err = errors.Join(errs...)
	if !errors.Is(err, ErrBadSignature) {
		err = fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil, err
}

// decodeBase64 reads standard or URL-safe base64, as DSSE allows either.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, uerr := base64.URLEncoding.DecodeString(s); uerr == nil {
			return b, nil
		}
	}
	return b, err
}

// marshal is json.Marshal without HTML escaping, so documents read as
// written ("<" stays "<").
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
