package web

import "time"

// SetLearnTimeout and SetJobKeep shorten a Server's learn jobs for tests:
// how long a job waits for the new peripheral, and how long it stays
// readable after it ended.
func SetLearnTimeout(s *Server, d time.Duration) { s.jobs.timeout.Store(int64(d)) }

// SetJobKeep: see SetLearnTimeout.
func SetJobKeep(s *Server, d time.Duration) { s.jobs.keep.Store(int64(d)) }
