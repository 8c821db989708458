package storage

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidName is wrapped by every error about a name that ValidName rejects.
var ErrInvalidName = errors.New("storage: invalid object name")

// ErrConflict is returned when creating an object whose name is a directory of
// another object ("a" while "a/b" exists) or has an object as a directory ("a/b"
// while "a" exists). A file system cannot hold both, so no backend allows it:
// a mistake then shows up in memory-backed tests, not only on disk.
var ErrConflict = errors.New("storage: name conflicts with an existing object")

// MaxSegmentLen bounds one segment of a name so that every backend can use it
// as a file name (255 bytes on common file systems). It fits Kafka's longest
// partition directory: a 249-character topic, '-', and a partition number.
const MaxSegmentLen = 255

// ValidName reports whether name can name an object: slash-separated segments
// of [A-Za-z0-9._-], none empty, none "." or "..", each at most MaxSegmentLen
// bytes. The restriction keeps names portable to files and IndexedDB keys and
// makes path escapes impossible. The error wraps ErrInvalidName.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidName)
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w %q: empty segment", ErrInvalidName, name)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w %q: segment %q", ErrInvalidName, name, seg)
		case len(seg) > MaxSegmentLen:
			return fmt.Errorf("%w %q: segment longer than %d bytes", ErrInvalidName, name, MaxSegmentLen)
		}
		for _, r := range seg {
			if !nameRune(r) {
				return fmt.Errorf("%w %q: character %q not in [A-Za-z0-9._-]", ErrInvalidName, name, r)
			}
		}
	}
	return nil
}

func nameRune(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}
