package g90

// QueueDepth returns how many messages wait for the state tracker and
// the queue's capacity (MonitorConfig.QueueSize), for metrics: a queue
// that stays near full is about to drop messages (MonitorStats.Dropped).
func (m *Monitor) QueueDepth() (n, capacity int) { return len(m.queue), cap(m.queue) }
