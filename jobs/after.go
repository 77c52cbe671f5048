package jobs

import (
	"fmt"
	"strconv"
	"time"
)

// ParseAfter parses qsub -a [[YYYY]MMDD]hhmm[.SS] in now's location. As in
// PBS, a time without a day that has already passed today means tomorrow,
// and a day without a year that has already passed this year means next
// year. A full date in the past is an error.
func ParseAfter(s string, now time.Time) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("-a %q: %w (want [[YYYY]MMDD]hhmm[.SS])", s, ErrBadTime)
	}
	body, sec := s, 0
	if i := len(s) - 3; i > 0 && s[i] == '.' {
		body = s[:i]
		n, err := strconv.Atoi(s[i+1:])
		if err != nil || n > 59 {
			return bad()
		}
		sec = n
	}
	for _, r := range body {
		if r < '0' || r > '9' {
			return bad()
		}
	}
	num := func(a, b int) int { n, _ := strconv.Atoi(body[a:b]); return n }
	year, month, day := now.Year(), int(now.Month()), now.Day()
	var hh, mm int
	switch len(body) {
	case 4:
		hh, mm = num(0, 2), num(2, 4)
	case 8:
		month, day, hh, mm = num(0, 2), num(2, 4), num(4, 6), num(6, 8)
	case 12:
		year, month, day, hh, mm = num(0, 4), num(4, 6), num(6, 8), num(8, 10), num(10, 12)
	default:
		return bad()
	}
	if hh > 23 || mm > 59 || month < 1 || month > 12 || day < 1 || day > 31 {
		return bad()
	}
	t := time.Date(year, time.Month(month), day, hh, mm, sec, 0, now.Location())
	if t.Day() != day { // 0231 and the like
		return bad()
	}
	if !t.After(now) {
		switch len(body) {
		case 4:
			t = time.Date(year, time.Month(month), day+1, hh, mm, sec, 0, now.Location())
		case 8:
			t = time.Date(year+1, time.Month(month), day, hh, mm, sec, 0, now.Location())
			if t.Day() != day { // 0229 in a year that has none
				return bad()
			}
		default:
			return time.Time{}, fmt.Errorf("-a %q: %w (%s is in the past)", s, ErrBadTime, t.Format("2006-01-02 15:04:05"))
		}
	}
	return t, nil
}
