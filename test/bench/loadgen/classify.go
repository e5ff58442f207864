package main

import (
	"errors"
	"net"
	"strings"
	"syscall"
)

// classify names an error by kind (for the error counts in the results), not by message.
func classify(err error) string {
	var kind errKind
	if errors.As(err, &kind) {
		return string(kind)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn-refused"
	case errors.Is(err, syscall.ECONNRESET), strings.Contains(err.Error(), "EOF"):
		return "conn-reset"
	}
	return "other"
}
