package room

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// codeAlphabet has no 0/O, 1/I/L: codes are read aloud and copied from a
// projector.
const (
	codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	codeLen      = 6
	tokenBytes   = 16 // 128 bits
	maxDevice    = 64
	maxKafkaAddr = 255
)

// newCode returns a random room code, uniform over the alphabet.
func newCode() string {
	b := make([]byte, 0, codeLen)
	var buf [16]byte
	for len(b) < codeLen {
		rand.Read(buf[:]) // never fails (crypto/rand panics rather)
		for _, c := range buf {
			// Reject the top of the byte range so every letter is equally likely.
			if int(c) < 256/len(codeAlphabet)*len(codeAlphabet) && len(b) < codeLen {
				b = append(b, codeAlphabet[int(c)%len(codeAlphabet)])
			}
		}
	}
	return string(b)
}

// normalizeCode upper-cases code and reports whether it is one newCode could
// have made.
func normalizeCode(code string) (string, bool) {
	if len(code) != codeLen {
		return "", false
	}
	code = strings.ToUpper(code)
	for i := range len(code) {
		if strings.IndexByte(codeAlphabet, code[i]) < 0 {
			return "", false
		}
	}
	return code, true
}

// newToken returns a fresh bearer token: 128 random bits in hex.
func newToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// validToken says whether t looks like a token newToken made.
func validToken(t string) bool {
	if len(t) != 2*tokenBytes {
		return false
	}
	_, err := hex.DecodeString(t)
	return err == nil
}

// hashToken is what the state keeps of a token, so that a leaked blob (a
// D1 backup) does not let anyone act as a member.
func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func sameHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// printable says whether s is valid UTF-8 made of printable characters only
// (spaces allowed, no control characters), at most max bytes.
func printable(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func validKind(k string) bool { return k == "tab" || k == "node" }
