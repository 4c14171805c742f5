package rules

import (
	"fmt"
	"strings"
)

// maxDiffLines bounds the texts Diff compares line by line (its cost is
// the product of both lengths).
const maxDiffLines = 3000

// Diff is a unified diff of two texts (whole files as context is not
// needed: 3 lines around each change), "" when they are equal.
func Diff(from, to, oldName, newName string) string {
	if from == to {
		return ""
	}
	a, b := splitLines(from), splitLines(to)
	if len(a) > maxDiffLines || len(b) > maxDiffLines {
		return fmt.Sprintf("--- %s\n+++ %s\n(too long to diff: %d and %d lines)\n", oldName, newName, len(a), len(b))
	}
	// lcs[i][j] is the length of the longest common subsequence of a[i:], b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte // ' ', '-', '+'
		text string
		ai   int // line in a (1-based) for ' ' and '-'
		bi   int // line in b for ' ' and '+'
	}
	var ops []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, line{' ', a[i], i + 1, j + 1})
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, line{'-', a[i], i + 1, j})
			i++
		default:
			ops = append(ops, line{'+', b[j], i, j + 1})
			j++
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", oldName, newName)
	const context = 3
	for k := 0; k < len(ops); {
		if ops[k].op == ' ' {
			k++
			continue
		}
		start := max(k-context, 0)
		end := k
		for end < len(ops) {
			if ops[end].op != ' ' {
				end++
				continue
			}
			// Close the hunk after more than 2*context unchanged lines.
			n := 0
			for end+n < len(ops) && ops[end+n].op == ' ' {
				n++
			}
			if end+n == len(ops) || n > 2*context {
				end += min(n, context)
				break
			}
			end += n
		}
		var aStart, aLen, bStart, bLen int
		for _, l := range ops[start:end] {
			if l.op != '+' {
				if aLen == 0 {
					aStart = l.ai
				}
				aLen++
			}
			if l.op != '-' {
				if bLen == 0 {
					bStart = l.bi
				}
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", aStart, aLen, bStart, bLen)
		for _, l := range ops[start:end] {
			out.WriteByte(l.op)
			out.WriteString(l.text)
			out.WriteByte('\n')
		}
		k = end
	}
	return out.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
