package web

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Password hashes: PBKDF2 with HMAC-SHA-256 (crypto/pbkdf2), a random
// salt, and an iteration count OWASP's password storage guide asks of
// PBKDF2-HMAC-SHA256 (600,000), written as one self-describing string:
//
//	pbkdf2-sha256$<iterations>$<salt, base64>$<key, base64>
//
// base64 is the standard alphabet without padding.
const (
	hashScheme = "pbkdf2-sha256"
	// HashIterations is the iteration count of HashPassword, and the
	// least a hash may have.
	HashIterations = 600_000
	// maxIterations bounds what a hash may ask for, so that a typo in
	// the config cannot make every login take minutes.
	maxIterations = 100_000_000
	saltLen       = 16
	keyLen        = 32
)

var b64 = base64.RawStdEncoding

// PasswordHash is a parsed password hash; the zero value matches no
// password.
type PasswordHash struct {
	iter      int
	salt, key []byte
}

// HashPassword hashes password with a new random salt, for the config's
// web.password_hash.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("web: empty password")
	}
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand)
	key, err := pbkdf2.Key(sha256.New, password, salt, HashIterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("web: hash password: %w", err)
	}
	return fmt.Sprintf("%s$%d$%s$%s", hashScheme, HashIterations, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ParsePasswordHash parses what HashPassword returned. Its errors never
// quote s: a password pasted in its place must not reach a log.
func ParsePasswordHash(s string) (PasswordHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return PasswordHash{}, fmt.Errorf("web: password hash: want %s$<iterations>$<salt>$<key> as g90 hash-password prints it", hashScheme)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < HashIterations || iter > maxIterations {
		return PasswordHash{}, fmt.Errorf("web: password hash: iterations: want %d to %d", HashIterations, maxIterations)
	}
	salt, err := b64.DecodeString(parts[2])
	if err != nil || len(salt) < saltLen {
		return PasswordHash{}, fmt.Errorf("web: password hash: salt: want at least %d bytes in unpadded base64", saltLen)
	}
	key, err := b64.DecodeString(parts[3])
	if err != nil || len(key) != keyLen {
		return PasswordHash{}, fmt.Errorf("web: password hash: key: want %d bytes in unpadded base64", keyLen)
	}
	return PasswordHash{iter: iter, salt: salt, key: key}, nil
}

// Match reports whether password is the one hashed. It takes the same
// time whatever password it is given.
func (h PasswordHash) Match(password string) bool {
	if h.key == nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, h.salt, h.iter, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(got, h.key) == 1
}
