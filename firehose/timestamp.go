package firehose

import (
	"bytes"
	"fmt"
)

// epochMillisThreshold separates epoch seconds from epoch milliseconds in a
// numeric timestamp: values of 10^11 and above are milliseconds. 10^11
// seconds is in the year 5138 and 10^11 milliseconds is in March 1973, so no
// timestamp of this project's data is ambiguous.
const epochMillisThreshold = 100_000_000_000

// parseTimestamp converts a timestamp in one of the forms that Firehose's
// OpenX JSON SerDe reads to epoch milliseconds (UTC):
//
//   - yyyy-MM-dd'T'HH:mm:ss[.S]'Z', with 1 to 9 fraction digits
//   - yyyy-[M]M-[d]d HH:mm:ss[.S], with 1 to 9 fraction digits, read as UTC
//   - epoch seconds or epoch milliseconds, as a number or a string of digits
//
// Numeric UTC offsets such as +01:00 are rejected, as the SerDe rejects them.
// Digits of the fraction below milliseconds are truncated.
func parseTimestamp(b []byte) (int64, error) {
	if n, ok := parseInt(b); ok {
		if n >= epochMillisThreshold || n <= -epochMillisThreshold {
			return n, nil
		}
		return n * 1000, nil
	}

	var (
		p      = 0
		fields [6]int
	)
	// number reads between minDigits and maxDigits decimal digits.
	number := func(minDigits, maxDigits int) (int, bool) {
		v, start := 0, p
		for p < len(b) && p-start < maxDigits && b[p] >= '0' && b[p] <= '9' {
			v = v*10 + int(b[p]-'0')
			p++
		}
		return v, p-start >= minDigits
	}
	expect := func(c byte) bool {
		if p < len(b) && b[p] == c {
			p++
			return true
		}
		return false
	}
	invalid := func() (int64, error) {
		if bytes.ContainsAny(b, "+") || (len(b) > 19 && bytes.LastIndexByte(b, '-') > 10) {
			return 0, fmt.Errorf("timestamp %q has a numeric UTC offset, which the OpenX JSON SerDe does not read: convert it to UTC and end it with Z", b)
		}
		return 0, fmt.Errorf("timestamp %q is invalid: use yyyy-MM-ddTHH:mm:ss.SSSZ, yyyy-MM-dd HH:mm:ss, or epoch seconds or milliseconds", b)
	}

	var ok bool
	if fields[0], ok = number(4, 4); !ok || !expect('-') {
		return invalid()
	}
	if fields[1], ok = number(1, 2); !ok || !expect('-') {
		return invalid()
	}
	if fields[2], ok = number(1, 2); !ok {
		return invalid()
	}
	isoForm := expect('T')
	if !isoForm && !expect(' ') {
		return invalid()
	}
	if isoForm && p != 11 {
		// The T form needs two-digit months and days.
		return invalid()
	}
	if fields[3], ok = number(2, 2); !ok || !expect(':') {
		return invalid()
	}
	if fields[4], ok = number(2, 2); !ok || !expect(':') {
		return invalid()
	}
	if fields[5], ok = number(2, 2); !ok {
		return invalid()
	}
	millis := 0
	if expect('.') {
		start := p
		fraction, ok := number(1, 9)
		if !ok {
			return invalid()
		}
		for digits := p - start; digits < 9; digits++ {
			fraction *= 10
		}
		millis = fraction / 1_000_000
	}
	if isoForm && !expect('Z') {
		return invalid()
	}
	if p != len(b) {
		return invalid()
	}

	year, month, day, hour, minute, second := fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59 {
		return 0, fmt.Errorf("timestamp %q is out of range", b)
	}
	days := daysFromCivil(year, month, day)
	return ((days*24+int64(hour))*60+int64(minute))*60_000 + int64(second)*1000 + int64(millis), nil
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's days_from_civil algorithm).
func daysFromCivil(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	m := int64(month)
	var mp int64
	if m > 2 {
		mp = m - 3
	} else {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
