package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/g90alarm/g90/internal/buildinfo"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision, Go version and platform of this g90",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(cmd, g)
		},
	}
}

func printVersion(cmd *cobra.Command, g *globals) error {
	info := buildinfo.Read()
	return g.output(cmd, info, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, info)
		return err
	})
}
