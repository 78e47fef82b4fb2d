package glue

// ageBandLowerBounds are the first ages of the bands of the age_band column.
// The last band is open-ended.
var ageBandLowerBounds = []int{18, 25, 35, 45, 55, 65, 75}

// AgeBands lists the values of the age_band column in ascending order.
var AgeBands = []string{"18-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"}

// AgeBand returns the band of age in years: 18-24, 25-34, 35-44, 45-54,
// 55-64, 65-74 or 75+. Ages under 18 have no band and return "".
func AgeBand(age int) string {
	band := ""
	for i, lower := range ageBandLowerBounds {
		if age >= lower {
			band = AgeBands[i]
		}
	}
	return band
}

// AgeOnElectionDay returns the age in years of a voter born in birthYear on
// a day of electionYear. The register stores only the birth year, so the age
// is the one the voter reaches during electionYear, which is one year too
// high for voters whose birthday falls after election day.
func AgeOnElectionDay(birthYear, electionYear int) int {
	return electionYear - birthYear
}
