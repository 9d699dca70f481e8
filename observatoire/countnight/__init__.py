"""Count nights: the one path every questionnaire takes into the database, and the staff's
tools around it.

Tablet entry, ODK/Kobo imports and the replay of the sample night all call
`entry.submit`, so a record is validated, stored and de-duplicated the same way whatever
its channel. Every service takes an `Engine` and opens its own short transactions: these
run concurrently from many volunteers' sessions.

- `entry`: team codes, joining a night, submitting records and reporting sectors;
- `corrections`: the team leader's list of records and their corrections;
- `lifecycle`: creating a night (sectors, teams, codes) and its switches (open, training,
  lock, purges);
- `sector_files`: reading the sector polygons a coordinator uploads;
- `coverage`: live coverage of the sectors and the extrapolated count;
- `team_sheets`: the printable team sheets;
- `replay`: ODK/Kobo export files, the sample night's replay, the stored records.
"""
