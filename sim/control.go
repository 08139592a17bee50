package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// maxControlBody bounds a control API request body.
const maxControlBody = 4 << 20

// controlHandler is the HTTP JSON control API:
//
//	GET  /state          the state (State.MarshalJSON)
//	POST /state          replace the state; body as GET /state returns
//	GET  /faults         the fault settings
//	POST /faults         replace the fault settings, e.g.
//	                     {"drop":0.3,"delay_ms":50,"duplicate":0.1,"stray":true,"silent":false,
//	                     "drop_code":107,"ignore_code":0}; absent fields are zero
//	POST /inject         an event at the panel, e.g. {"event":"door_open","sensor":1},
//	                     or a sensor transmitting while the panel learns one after
//	                     ADDSENSOR: {"event":"learn","type":"Door Sensor: WDS07"};
//	                     answers {"sent":["[170,[5,[1,\"Front door\"]]]",…]}
//	POST /learn/complete finish a pending ADDSENSOR: {"index":N}
//
// Errors are {"error":"…"} with status 400 (bad request body), 404, 405 or
// 409 (nothing to learn).
func (p *Panel) controlHandler() http.Handler {
	mux := http.NewServeMux()
	route := func(path string, methods map[string]http.HandlerFunc) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok {
				allow := make([]string, 0, len(methods))
				for m := range methods {
					allow = append(allow, m)
				}
				slices.Sort(allow)
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, path))
				return
			}
			h(w, r)
		})
	}
	route("/state", map[string]http.HandlerFunc{
		http.MethodGet: func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, p.Snapshot()) },
		http.MethodPost: func(w http.ResponseWriter, r *http.Request) {
			var s State
			if err := decodeBody(w, r, &s); err != nil {
				writeError(w, http.StatusBadRequest, "invalid state: "+err.Error())
				return
			}
			if err := p.SetState(s); err != nil {
				writeError(w, http.StatusBadRequest, "invalid state: "+err.Error())
				return
			}
			writeJSON(w, http.StatusOK, p.Snapshot())
		},
	})
	route("/faults", map[string]http.HandlerFunc{
		http.MethodGet: func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, p.Faults()) },
		http.MethodPost: func(w http.ResponseWriter, r *http.Request) {
			var f Faults
			err := decodeBody(w, r, &f)
			if err == nil {
				err = p.SetFaults(f)
			}
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid faults: "+strings.TrimPrefix(err.Error(), "sim: "))
				return
			}
			writeJSON(w, http.StatusOK, p.Faults())
		},
	})
	route("/inject", map[string]http.HandlerFunc{
		http.MethodPost: func(w http.ResponseWriter, r *http.Request) {
			var in Injection
			if err := decodeBody(w, r, &in); err != nil {
				writeError(w, http.StatusBadRequest, "invalid injection: "+err.Error())
				return
			}
			sent, err := p.Inject(in)
			if err != nil {
				writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "sim: "))
				return
			}
			out := make([]string, len(sent))
			for i, d := range sent {
				out[i] = strings.TrimSuffix(string(d), "\x00")
			}
			writeJSON(w, http.StatusOK, map[string][]string{"sent": out})
		},
	})
	route("/learn/complete", map[string]http.HandlerFunc{
		http.MethodPost: func(w http.ResponseWriter, _ *http.Request) {
			index, err := p.CompleteLearn()
			if err != nil {
				writeError(w, http.StatusConflict, strings.TrimPrefix(err.Error(), "sim: "))
				return
			}
			writeJSON(w, http.StatusOK, map[string]int{"index": index})
		},
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return mux
}

// decodeBody decodes exactly one JSON value with no unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body")
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
