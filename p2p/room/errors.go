package room

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// StatusError is an error with the HTTP status that reports it: the
// Handler's methods return it and the Client returns the server's errors as
// it, so that callers can tell a full room (409) from a broken network.
type StatusError struct {
	Status  int
	Message string

	retryAfter time.Duration // the server's Retry-After, for the Client
}

func (e *StatusError) Error() string { return e.Message }

func errorf(status int, format string, args ...any) *StatusError {
	return &StatusError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Errors the handler answers with in several places.
var (
	errBadToken = errorf(http.StatusUnauthorized, "invalid or expired token: join the room again")
	errBusy     = errorf(http.StatusServiceUnavailable, "room busy: too many concurrent changes, try again")
)

// statusOf maps any error to the status and message the handler answers.
func statusOf(err error) (int, string) {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return se.Status, se.Message
	case errors.Is(err, ErrNoRoom):
		return http.StatusNotFound, "no such room"
	case errors.Is(err, ErrConflict):
		return errBusy.Status, errBusy.Message
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// The client went away (or the node is stopping): nobody reads
		// this answer, and it is nothing to log.
		return http.StatusServiceUnavailable, "request canceled"
	}
	return http.StatusInternalServerError, "internal error: " + err.Error()
}
