package journal_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/journal"
)

func Example() {
	dir, err := os.MkdirTemp("", "journal")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "journal.db")

	j, err := journal.Open(journal.Config{Path: path, MaxAge: 30 * 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, ev := range []event.Event{
		{Type: event.ArmDisarm, Time: at, GUID: "SIMPANEL0001", Source: event.SourceLocal, State: event.ArmAway},
		{Type: event.DoorOpen, Time: at, GUID: "SIMPANEL0001", Source: event.SourceLocal, Sensor: true, Index: 1, Name: "Front door"},
	} {
		if _, err := j.Append(&ev); err != nil {
			log.Fatal(err)
		}
	}
	j.Close()

	// Later, or in another process: read it back.
	r, err := journal.Open(journal.Config{Path: path, ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for e, err := range r.Query(journal.Query{Panel: "SIMPANEL0001"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d %s\n", e.Seq, e.JSON)
	}
	// Output:
	// 1 {"time":"2026-11-21T09:00:00Z","panel":"SIMPANEL0001","source":"local","type":"arm_disarm","state":"away","seq":1}
	// 2 {"time":"2026-11-21T09:00:00Z","panel":"SIMPANEL0001","source":"local","type":"door_open","sensor":{"index":1,"name":"Front door","type":""},"seq":2}
}
