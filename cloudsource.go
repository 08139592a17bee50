package g90

import (
	"context"
	"sync/atomic"

	"github.com/g90alarm/g90/cloud"
	"github.com/g90alarm/g90/notify"
)

// CloudSource is the cloud server as an event source for one Monitor: the
// panel, pointed at us with SetCloudServer, connects over TCP as it would
// to the vendor cloud (spec: notifications-and-cloud.md D, E), and its
// status changes and wrapped notifications become events like local
// notifications do.
type CloudSource struct {
	srv  *cloud.Server
	guid string
	sink atomic.Pointer[notify.Sink]
}

// NewCloudSource starts listening as cfg says (cfg.Handler is the
// source's own). With guid set, only that panel's messages are taken;
// other panels' are dropped. Run serves.
func NewCloudSource(cfg cloud.Config, guid string) (*CloudSource, error) {
	s := &CloudSource{guid: guid}
	cfg.Handler = cloud.HandlerFunc(s.handle)
	srv, err := cloud.New(cfg)
	if err != nil {
		return nil, err
	}
	s.srv = srv
	return s, nil
}

// Server returns the cloud server, for its address, panels and counters.
func (s *CloudSource) Server() *cloud.Server { return s.srv }

// Run implements Source: it serves panels until ctx ends.
func (s *CloudSource) Run(ctx context.Context, sink notify.Sink) error {
	s.sink.Store(&sink)
	return s.srv.Serve(ctx)
}

// handle is called by the server, serially per connection.
func (s *CloudSource) handle(_ context.Context, m *cloud.Message) {
	sink := s.sink.Load()
	if sink == nil || (s.guid != "" && m.GUID != s.guid) {
		return
	}
	(*sink).Packet(notify.SourceCloud, m.Received)
	(*sink).Message(m.Notify, notify.SourceCloud, m.Received)
}
