// Package backup reads and writes Portier's backup file: one self-describing,
// versioned, compressed file holding every store record and the data-dir
// files a restore needs, with a SHA-256 over the whole file.
//
// Layout (version 1):
//
//	"portier-backup\n"                    magic line
//	{"format":"portier-backup",...}\n     header: one line of JSON (Header)
//	DEFLATE stream (RFC 1951) of frames:
//	  'R' kind id value                   one store record
//	  'F' path mode data                  one data-dir file
//	  'E' records files                   the end, with the counts
//	32 bytes                              SHA-256 of every byte before it
//
// Strings and byte strings in frames are a uvarint length followed by the
// bytes; mode and counts are uvarints. The header stays readable with
// `head -2`. The reader treats its input as untrusted: every length is
// bounded, nothing is allocated before the bytes arrive, and Next reports
// the end only after the counts and the checksum are verified, so a caller
// that writes nothing until then never acts on a truncated or altered file.
package backup
