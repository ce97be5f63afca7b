DROP TABLE questionnaires;
