package daemon_test

import (
	"fmt"

	"github.com/g90alarm/g90/daemon"
)

func ExampleParseConfig() {
	env := map[string]string{"G90_PIN": "1234"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	cfg, err := daemon.ParseConfig("/etc/g90/g90.yaml", []byte(`
panels:
  - name: home
    host: 192.168.1.50
    pin: ${G90_PIN}
state_dir: /var/lib/g90
`), lookup)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := cfg.Panels[0]
	fmt.Println(p.Name, p.Host, p.Port, p.Notifications, p.Poll, p.PIN != "")
	fmt.Println(cfg.MQTT.TopicPrefix, cfg.Web.Listen, cfg.JournalPath())

	_, err = daemon.ParseConfig("/etc/g90/g90.yaml", []byte(`
panels:
  - host: 192.168.1.50
    poll: 5x
  - host: 192.168.1.51
    notificatons: cloud
`), lookup)
	fmt.Println(err)
	// Output:
	// home 192.168.1.50 12368 local 30s true
	// g90 127.0.0.1:8080 /var/lib/g90/journal.db
	// /etc/g90/g90.yaml:4: panels[0].poll: "5x": not a duration (write e.g. 30s, 5m, 720h)
	// /etc/g90/g90.yaml:6: panels[1].notificatons: unknown key (known here: guid, history_interval, host, name, notifications, notify_listen, pin, poll, port, transport)
}
