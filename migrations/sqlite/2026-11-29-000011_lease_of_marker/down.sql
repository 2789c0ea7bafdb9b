DROP INDEX serves_lease_of_marker;
