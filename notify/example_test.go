package notify_test

import (
	"fmt"
	"time"

	"github.com/g90alarm/g90/notify"
)

// A door-open alert gives the activity of the sensor, then the door event
// (spec: notifications-and-cloud.md B.3 DoorOpenClose).
func ExampleDecode() {
	datagram := []byte("[208,[4,100,1,1,\"Hall\",\"DUMMYGUID\",1631545189,0,[\"\"]]]\x00")
	m, err := notify.Decode(datagram)
	if err != nil {
		fmt.Println(err)
		return
	}
	evs, err := m.Events(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range evs {
		fmt.Println(ev.Time.Format(time.RFC3339), ev.GUID, ev.Type, ev.Index, ev.Name, ev.Occupied)
	}
	// Output:
	// 2021-09-13T14:59:49Z DUMMYGUID sensor_activity 100 Hall true
	// 2021-09-13T14:59:49Z DUMMYGUID door_open 100 Hall false
}

// A malformed datagram is an error that says where it failed.
func ExampleDecode_error() {
	_, err := notify.Decode([]byte("[170,[5,[100,\"Hall\",1]]]\x00"))
	fmt.Println(err)
	// Output:
	// notify: malformed message: sensor activity: want 2 fields, got 3
}
