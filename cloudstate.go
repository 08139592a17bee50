package g90

import (
	"net/netip"
	"time"
)

// CloudState is what the cloud server knows of a panel's connection, in
// the Monitor's State (State.Cloud) of a panel whose events come from a
// cloud server (package cloud).
//
// Nothing authenticates a panel in the cloud protocol: the GUID in its
// hello is its only identity (spec: notifications-and-cloud.md D.1).
// Two addresses naming one panel — the panel and an impostor, or a
// panel that moved while its old connection lingers — are a conflict:
// the events of the panel may come from someone else.
type CloudState struct {
	// Remote is the address of the panel's open connection, and
	// Connected when it was accepted; zero while it has none.
	Remote    netip.AddrPort `json:"remote,omitzero"`
	Connected time.Time      `json:"connected,omitzero"`
	// LastUpstream is when the vendor's cloud last sent something for
	// the panel (chained panels; spec: E.4.5 last_upstream_packet_time);
	// zero before that.
	LastUpstream time.Time `json:"last_upstream,omitzero"`
	// Conflicts counts the conflicts since start.
	Conflicts uint64 `json:"conflicts"`
	// Conflict is true for a while (an hour, cloud.ConflictHold) after
	// the last one: a problem to show (Home Assistant's "problem" sensor).
	Conflict bool `json:"conflict"`
	// ConflictAt is when the last one was; ConflictLive the address of
	// the connection that was open then, ConflictFrom the other one's;
	// ConflictTakeover is true when the other one replaced the live one
	// (which had been silent, cloud.Config.Takeover), false when it was
	// refused.
	ConflictAt       time.Time      `json:"conflict_at,omitzero"`
	ConflictLive     netip.AddrPort `json:"conflict_live,omitzero"`
	ConflictFrom     netip.AddrPort `json:"conflict_from,omitzero"`
	ConflictTakeover bool           `json:"conflict_takeover,omitempty"`
}

// CloudStater is a Source that knows the panel's cloud connection: the
// Monitor's State.Cloud is what the first of its sources that implements
// it says, once ok.
type CloudStater interface {
	CloudState() (st CloudState, ok bool)
}
