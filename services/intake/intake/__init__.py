"""intake: clients, intake forms, contraindication flags and informed consent."""
