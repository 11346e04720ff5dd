package fleet

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// checkPublicKey returns an error unless data is a PEM-encoded PKIX public
// key, the format of cosign public keys.
func checkPublicKey(data []byte) error {
	block, rest := pem.Decode(data)
	if block == nil {
		return errors.New("no PEM block: a key file holds a PEM \"PUBLIC KEY\" such as cosign.pub")
	}
	if block.Type != "PUBLIC KEY" {
		return fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return fmt.Errorf("invalid public key: %w", err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return errors.New("unexpected data after the PEM block: a key file holds one key")
	}
	return nil
}
