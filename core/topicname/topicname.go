// Package topicname holds Kafka's rules for topic names, shared by the broker
// and the controller.
package topicname

import (
	"fmt"
	"strings"
)

// MaxLength is the longest legal topic name: 249, so that a partition
// directory "<topic>-<partition>" fits a 255-byte file name.
const MaxLength = 249

// Validate applies Kafka's rules (org.apache.kafka.common.internals.Topic.validate);
// the error text is Kafka's.
func Validate(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("Topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return fmt.Errorf("Topic name cannot be \".\" or \"..\"")
	case len(name) > MaxLength:
		return fmt.Errorf("Topic name is illegal, it can't be longer than %d characters, topic name: %s", MaxLength, name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("Topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// Collides reports whether two different names would clash in metric names,
// which replace '.' with '_' (Topic.hasCollision).
func Collides(a, b string) bool {
	return a != b && strings.ReplaceAll(a, ".", "_") == strings.ReplaceAll(b, ".", "_")
}
