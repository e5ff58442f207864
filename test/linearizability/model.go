package main

import "fmt"

type kvInput struct {
	Op    string // put | get | cas
	Value string
	IfRev int64
}

type kvOutput struct {
	Unknown  bool
	Found    bool
	Value    string
	Revision int64
	Mismatch bool
}

// kvState is one key's register. Rev 0 with Exists means "written by an operation whose
// reply was lost": its revision is not known yet, and the next read that sees it fixes it.
type kvState struct {
	Exists bool
	Value  string
	Rev    int64
}

// stepKV returns every state the key can be in after the operation, or none if the
// operation's output is impossible from this state. Revisions are cluster-wide and grow with
// the log, so a write must also get a revision above the one it overwrites.
func stepKV(s kvState, in kvInput, out kvOutput) []kvState {
	switch in.Op {
	case "get":
		if !out.Found {
			if s.Exists {
				return nil
			}
			return []kvState{s}
		}
		if !s.Exists || s.Value != out.Value || (s.Rev != 0 && s.Rev != out.Revision) {
			return nil
		}
		return []kvState{{Exists: true, Value: s.Value, Rev: out.Revision}}
	case "put":
		return write(s, in, out)
	case "cas":
		matches := s.Exists && s.Rev == in.IfRev
		unsure := s.Exists && s.Rev == 0 // revision of a lost-reply write: could be IfRev
		switch {
		case out.Unknown:
			next := []kvState{s} // the compare failed, or the write never took effect
			if matches || unsure {
				next = append(next, kvState{Exists: true, Value: in.Value})
			}
			return next
		case out.Mismatch:
			if matches {
				return nil
			}
			return []kvState{s}
		default:
			if !matches && !unsure {
				return nil
			}
			if out.Revision <= in.IfRev {
				return nil
			}
			return write(s, in, out)
		}
	}
	return nil
}

func write(s kvState, in kvInput, out kvOutput) []kvState {
	if out.Unknown {
		return []kvState{{Exists: true, Value: in.Value}}
	}
	if s.Exists && s.Rev != 0 && out.Revision <= s.Rev {
		return nil
	}
	return []kvState{{Exists: true, Value: in.Value, Rev: out.Revision}}
}

func describeOp(in kvInput, out kvOutput) string {
	var res string
	switch {
	case out.Unknown:
		res = "?"
	case in.Op == "get" && !out.Found:
		res = "404"
	case in.Op == "get":
		res = fmt.Sprintf("%q@%d", out.Value, out.Revision)
	case out.Mismatch:
		res = "412"
	default:
		res = fmt.Sprintf("rev %d", out.Revision)
	}
	switch in.Op {
	case "get":
		return "get() → " + res
	case "cas":
		return fmt.Sprintf("cas(if %d, %q) → %s", in.IfRev, in.Value, res)
	default:
		return fmt.Sprintf("put(%q) → %s", in.Value, res)
	}
}

func describeState(s kvState) string {
	if !s.Exists {
		return "absent"
	}
	if s.Rev == 0 {
		return fmt.Sprintf("%q@?", s.Value)
	}
	return fmt.Sprintf("%q@%d", s.Value, s.Rev)
}
