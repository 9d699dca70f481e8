"""The yearly evaluation the *Logement d'abord* conventions require: the convention as data
(`convention`) and the execution report (`report`)."""
