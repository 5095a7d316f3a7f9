// Package ratelimit counts attempts per key and says when the next one may
// be made, with growing delays instead of lockouts (SECURITY-CHECKLIST
// ATO-02, ATO-11; NIST SP 800-63B-4 §3.2.2). An attempt is counted before
// the work it guards runs (reserve, then settle), so parallel attempts
// cannot all pass a check that no failure has reached yet. It knows no
// domain rules: callers name the keys and their policies.
//
// Memory keeps the counters of one process; Redis shares them between
// nodes; Failover uses Redis and falls back to Memory while Redis is
// unreachable, so throttling never stops.
package ratelimit
